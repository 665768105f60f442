import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeTrustFile } from '@tufup/bundle';
import { addBundle } from '@tufup/repo-tools';
import { build } from 'esbuild';

/** The repository root; installs live under its .tmp/ so that a main that keeps the package external finds it in node_modules. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The project's Node 24 (type stripping, zstd), whatever runs vitest. */
export const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
/** Registers the stand-in `electron` module (electron-module.ts) in an app's process. */
const REGISTER = new URL('./register-electron.js', import.meta.url).href;

/** How an app's main is built: its source's module format, the bundle's, and whether the client is bundled in. */
export interface MainBuild {
  /** The main file's source (JavaScript), or `entry`, a file (TypeScript too) to bundle from. */
  source: string;
  entry?: string;
  /** Specifiers the bundler replaces (esbuild `alias`): e.g. a changed import line. */
  alias?: Record<string, string>;
  /** esbuild (the default), Vite (what Forge's Vite template and electron-vite build with) or webpack (Forge's webpack template). */
  bundler?: 'esbuild' | 'vite' | 'webpack';
  sourceFormat: 'esm' | 'cjs';
  /** What the bundler writes: ESM (`main.mjs`) or CommonJS (`main.cjs`). */
  format: 'esm' | 'cjs';
  /** @tufup/electron-client bundled into the main file, or left to node_modules (`external`). */
  packageBundled: boolean;
}

/**
 * Bundles the main file with Vite as Electron Forge's Vite template and electron-vite configure it: a
 * library build for Node (`ssr`), Node's built-ins and `electron` external, dependencies bundled in
 * unless the client is to stay external.
 */
async function viteBundle(main: MainBuild, entry: string, workDir: string): Promise<{ file: string; text: string }> {
  const { build: viteBuild } = await import('vite');
  const file = main.format === 'esm' ? 'main.mjs' : 'main.cjs';
  const outDir = join(workDir, 'vite-out');
  const external = ['electron', ...builtinModules, ...builtinModules.map((name) => `node:${name}`)];
  await viteBuild({
    configFile: false,
    logLevel: 'error',
    root: workDir,
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      target: 'node22',
      ssr: true,
      lib: { entry, formats: [main.format === 'esm' ? 'es' : 'cjs'], fileName: () => file },
      rollupOptions: { external: main.packageBundled ? external : [...external, /^@tufup\/electron-client(\/.*)?$/] },
    },
    ssr: { noExternal: main.packageBundled ? true : [], target: 'node' },
  });
  // Vite names the output as it likes (main.js for an ES library build); the app ships it as `file`.
  const [written] = (await readdir(outDir)).filter((name) => /\.(c|m)?js$/.test(name));
  if (written === undefined) throw new Error(`vite wrote nothing to ${outDir}`);
  return { file, text: await readFile(join(outDir, written), 'utf8') };
}

/**
 * Bundles the main file with webpack as Electron Forge's webpack template does (@electron-forge/plugin-webpack:
 * `target: 'electron-main'`, so `electron` and Node's built-ins stay external; a `commonjs2` library;
 * production mode, so minified by terser), the client bundled in or left to node_modules as a `require`.
 * webpack writes CommonJS only here, as the template does.
 */
async function webpackBundle(main: MainBuild, entry: string, workDir: string): Promise<{ file: string; text: string }> {
  if (main.format !== 'cjs') throw new Error('the webpack build writes CommonJS, as Forge\'s webpack template does');
  const { webpack } = await import('webpack');
  const outDir = join(workDir, 'webpack-out');
  const stats = await new Promise<import('webpack').Stats | undefined>((resolve, reject) => {
    webpack(
      {
        mode: 'production',
        target: 'electron-main',
        entry,
        context: workDir,
        output: { path: outDir, filename: 'main.cjs', library: { type: 'commonjs2' } },
        externals: main.packageBundled ? [] : [/^@tufup\/electron-client(\/.*)?$/],
        externalsType: 'commonjs',
        resolve: { modules: [join(ROOT, 'node_modules'), 'node_modules'] },
        infrastructureLogging: { level: 'error' },
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  if (stats?.hasErrors() === true) throw new Error(`webpack failed: ${stats.toString('errors-only')}`);
  return { file: 'main.cjs', text: await readFile(join(outDir, 'main.cjs'), 'utf8') };
}

/** Bundles a main file the way an app's build does (esbuild, Vite or webpack, `electron` external); returns its text and file name. */
export async function bundleMain(main: MainBuild, workDir: string): Promise<{ file: string; text: string }> {
  let entry = main.entry;
  if (entry === undefined) {
    entry = join(workDir, `source.${main.sourceFormat === 'esm' ? 'mjs' : 'cjs'}`);
    await writeFile(entry, main.source);
  }
  if (main.bundler === 'vite') return viteBundle(main, entry, workDir);
  if (main.bundler === 'webpack') return webpackBundle(main, entry, workDir);
  const result = await build({
    entryPoints: [entry],
    ...(main.alias === undefined ? {} : { alias: main.alias }),
    bundle: true,
    write: false,
    platform: 'node',
    format: main.format,
    target: 'node22',
    external: ['electron', ...(main.packageBundled ? [] : ['@tufup/electron-client', '@tufup/electron-client/*'])],
    // Resolve the package as the app's bundler would: from the project's node_modules.
    nodePaths: [join(ROOT, 'node_modules')],
    logLevel: 'error',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild wrote nothing');
  return { file: main.format === 'esm' ? 'main.mjs' : 'main.cjs', text: output.text };
}

/** The app's identity: the repository knows it as `appName`; the user sees `productName`. */
export interface AppIdentity {
  appName: string;
  productName: string;
}

/**
 * Writes the app as a packager lays it out: an executable launcher (a shell script that runs the main
 * file on the stand-in Electron), `resources/tufup.json`, and `resources/app/` with package.json, the
 * main file and a page.
 */
export async function writeApp(dir: string, version: string, identity: AppIdentity, main: { file: string; text: string }, trustFile: Buffer): Promise<void> {
  await mkdir(join(dir, 'resources', 'app'), { recursive: true });
  const launcher = join(dir, identity.appName);
  await writeFile(launcher, `#!/bin/sh\nexec "$TUFUP_TEST_NODE" --import "$TUFUP_TEST_REGISTER" "$(dirname "$0")/resources/app/${main.file}" "$@"\n`);
  await chmod(launcher, 0o755);
  await writeFile(join(dir, 'resources', 'tufup.json'), trustFile);
  const pkg = { name: identity.appName, productName: identity.productName, version, main: main.file };
  await writeFile(join(dir, 'resources', 'app', 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(join(dir, 'resources', 'app', main.file), main.text);
  await writeFile(join(dir, 'resources', 'app', 'index.html'), `<!doctype html><title>${identity.productName} ${version}</title>\n`);
}

/** The trust file `tufup-repo trust --url` makes for the repository in `repoDir`. */
export async function trustFileFor(repoDir: string, appName: string, url: string): Promise<Buffer> {
  const root = await readFile(join(repoDir, 'metadata', '1.root.json'));
  return serializeTrustFile({ appName, url, root });
}

/** Publishes the app folder `dir` as `version` for this machine's platform and arch. */
export async function publishApp(repo: { repoDir: string; keysDir: string }, dir: string, version: string): Promise<void> {
  await addBundle({ repoDir: repo.repoDir, keysDir: repo.keysDir, bundleDir: dir, version, platform: process.platform, arch: process.arch });
}

/** Installs the app folder `from` at `to`, as an installer would. */
export async function installApp(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, verbatimSymlinks: true });
}

/** A report line of the stand-in Electron (test/standin/electron-module.ts). */
export interface ReportLine {
  pid: number;
  type: string;
  [key: string]: unknown;
}

/** The environment of a launched stand-in app. */
export interface LaunchEnv {
  report: string;
  userData: string;
  home: string;
  /** Press "Restart to update" as soon as an update is downloaded. */
  clickInstall?: boolean;
  /** More variables for the app (and what the installer relaunches). */
  extra?: Record<string, string>;
}

/** Starts the installed app through its launcher, as the user (or the installer's relaunch) would. */
export function launchApp(installDir: string, appName: string, env: LaunchEnv): ChildProcess {
  const launcher = join(installDir, appName);
  // Nothing of the test runner's own environment may make the install look special.
  const own = Object.entries(process.env).filter(([name]) => !['APPIMAGE', 'APPDIR', 'XDG_CACHE_HOME', 'ELECTRON_RUN_AS_NODE', 'NODE_OPTIONS'].includes(name));
  const childEnv: NodeJS.ProcessEnv = {
    ...Object.fromEntries(own),
    TUFUP_TEST_NODE: NODE,
    TUFUP_TEST_REGISTER: REGISTER,
    STANDIN_EXEC_PATH: launcher,
    STANDIN_REPORT: env.report,
    STANDIN_USER_DATA: env.userData,
    STANDIN_HOME: env.home,
    STANDIN_CLICK_INSTALL: env.clickInstall === true ? '1' : '0',
    ...env.extra,
  };
  // stderr is kept (`stderrOf`) for the message of a failing test.
  const child = spawn(launcher, [], { stdio: ['ignore', 'inherit', 'pipe'], env: childEnv });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  stderrs.set(child, () => stderr);
  return child;
}

const stderrs = new WeakMap<ChildProcess, () => string>();

/** What a launched app wrote to stderr so far. */
export function stderrOf(child: ChildProcess): string {
  return stderrs.get(child)?.() ?? '';
}

/** The stand-in apps' report so far. */
export async function readReport(file: string): Promise<ReportLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ReportLine);
}

/** The code blocks of README.md whose first line is `// <header>`, without that line. */
export async function readmeBlock(header: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  for (const [, body = ''] of readme.matchAll(/```(?:js|ts)\n([\s\S]*?)```/g)) {
    const [first, ...rest] = body.split('\n');
    if (first === `// ${header}`) return rest.join('\n');
  }
  throw new Error(`README.md has no code block starting with // ${header}`);
}
