/**
 * The real-Electron smoke run (.github/workflows/smoke.yml runs it on Linux, Windows and macOS): the demo
 * app packaged by electron-builder as a user would package it, released as 1.0.0 and 1.1.0 through the
 * @tufup/repo-tools/electron-builder hooks, published with `publishRepository` to a folder served on
 * 127.0.0.1; then 1.0.0 is installed and started, finds 1.1.0, downloads it, quits, the installer swaps it
 * in and relaunches it, and the relaunched app must report 1.1.0 and a successful `markHealthy()`.
 *
 *   npm run build && node scripts/ci-smoke.ts [--work DIR] [--electron-dist DIR] [--no-launch] [--timeout SECONDS]
 *
 * Every step but the last runs anywhere; the last needs a machine where Electron starts (a display: use
 * `xvfb-run -a` on Linux). --electron-dist packages from another Electron distribution than the
 * `electron` package's binary (`node node_modules/electron/install.js` downloads that one); --no-launch
 * stops before starting the app and prints how it would be started. The work folder keeps everything
 * (repository, site, packaged apps, the app's report and logs) for a look after a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative, resolve, sep } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Arch, archFromString, build, Platform, type Configuration } from 'app-builder-lib';
import { parseTrustFile } from '@tufup/bundle';
import { initRepository, publishRepository } from '@tufup/repo-tools';
import { UpdateClient } from '@tufup/electron-client/core';
import { tufupHooks } from '@tufup/repo-tools/electron-builder';
import { buildDemoApp, DEMO_APP, ROOT } from './demo-app-build.ts';

/** The app name in the repository; the product name is a different one, with a space, as real apps have. */
const APP_NAME = 'tufup-demo-app';
const PRODUCT_NAME = 'Tufup Demo';
const VERSIONS = ['1.0.0', '1.1.0'] as const;

const { values: args } = parseArgs({
  options: {
    work: { type: 'string', default: join(ROOT, '.tmp', 'ci-smoke') },
    'electron-dist': { type: 'string' },
    'no-launch': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '240' },
  },
});
const work = resolve(args.work);
/** A path for messages: relative to the project when inside it. */
const shown = (path: string): string => (path.startsWith(ROOT + sep) ? relative(ROOT, path) : path);
const paths = {
  repo: join(work, 'repo'),
  keys: join(work, 'keys'),
  site: join(work, 'site'),
  tarballs: join(work, 'tarballs'),
  stage: join(work, 'app'),
  dist: (version: string) => join(work, `dist-${version}`),
  install: join(work, 'install'),
  userData: join(work, 'user-data'),
  report: join(work, 'logs', 'report.jsonl'),
  logs: join(work, 'logs'),
};

let stepNumber = 0;
const STEPS = 9;
/** Runs one step, printing what it does and how long it took. */
async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  process.stdout.write(`[${++stepNumber}/${STEPS}] ${what}\n`);
  const result = await work();
  process.stdout.write(`      done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return result;
}

function note(line: string): void {
  process.stdout.write(`      ${line}\n`);
}

/** Runs a program (npm is npm.cmd on Windows, run through the shell there) and returns its stdout. */
function run(command: string, commandArgs: string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const windows = process.platform === 'win32';
    const child = spawn(command, windows ? commandArgs.map((a) => (a.includes(' ') ? `"${a}"` : a)) : commandArgs, { cwd, shell: windows, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolvePromise(stdout) : reject(new Error(`${command} ${commandArgs.join(' ')} exited ${String(code)}:\n${stderr}`))));
  });
}

/** A static file server for the published folder, on 127.0.0.1. */
async function serve(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = resolve(root, `.${path}`);
    if (!file.startsWith(root + sep)) return void res.writeHead(404).end();
    readFile(file).then(
      (bytes) => res.writeHead(200, { 'content-length': bytes.length, 'cache-control': path.endsWith('timestamp.json') ? 'max-age=60' : 'max-age=31536000' }).end(bytes),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The Electron distribution to package from, and its version. */
async function electronRuntime(): Promise<{ dist: string; version: string }> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'node_modules', 'electron', 'package.json'), 'utf8')) as { version: string };
  const dist = resolve(args['electron-dist'] ?? join(ROOT, 'node_modules', 'electron', 'dist'));
  if (!existsSync(dist)) {
    throw new Error(`no Electron distribution at ${dist}: run "node node_modules/electron/install.js" (npm skips its install script), or pass --electron-dist`);
  }
  return { dist, version: pkg.version };
}

/** The app as a user's project holds it: package.json, the built main and preload, the page, and the client installed from its packed tarballs. */
async function stageApp(): Promise<void> {
  await mkdir(paths.tarballs, { recursive: true });
  const packed = JSON.parse(
    await run('npm', ['pack', '--workspace', '@tufup/bundle', '--workspace', '@tufup/electron-client', '--pack-destination', paths.tarballs, '--json'], ROOT),
  ) as { filename: string }[];
  note(`packed ${packed.map((p) => p.filename).join(', ')}`);
  await mkdir(paths.stage, { recursive: true });
  await writeFile(
    join(paths.stage, 'package.json'),
    `${JSON.stringify({ name: APP_NAME, productName: PRODUCT_NAME, version: VERSIONS[0], description: 'The tufup demo app', author: 'tufup', type: 'module', main: 'out/main.js' }, null, 2)}\n`,
  );
  // --legacy-peer-deps: npm would otherwise install Electron itself as a peer of the client.
  await run('npm', ['install', '--omit=dev', '--legacy-peer-deps', '--prefer-offline', '--no-audit', '--no-fund', ...packed.map((p) => join(paths.tarballs, p.filename))], paths.stage);
  await buildDemoApp(join(paths.stage, 'out'));
  await cp(join(DEMO_APP, 'renderer'), join(paths.stage, 'renderer'), { recursive: true });
  await cp(join(DEMO_APP, 'version.js'), join(paths.stage, 'version.js'));
}

/** Packages the staged app at `version` for this machine with electron-builder; the hooks add the release. Returns the install folder. */
async function packageRelease(version: string, runtime: { dist: string; version: string }): Promise<string> {
  const pkgPath = join(paths.stage, 'package.json');
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as Record<string, unknown>;
  await writeFile(pkgPath, `${JSON.stringify({ ...pkg, version }, null, 2)}\n`);
  const hooks = tufupHooks({ repoDir: paths.repo, keysDir: paths.keys, releaseNotes: `Smoke release ${version}`, logger: { info: note, warn: note } });
  let appOutDir = '';
  const config: Configuration = {
    appId: 'dev.tufup.demo',
    productName: PRODUCT_NAME,
    directories: { output: paths.dist(version) },
    electronVersion: runtime.version,
    electronDist: runtime.dist,
    npmRebuild: false,
    files: ['out/**', 'renderer/**', 'version.js', 'package.json'],
    extraResources: [{ from: join(paths.repo, 'tufup.json'), to: 'tufup.json' }],
    afterPack: async (context) => {
      appOutDir = context.appOutDir;
      await hooks.afterPack(context);
    },
    afterAllArtifactBuild: hooks.afterAllArtifactBuild,
    linux: { target: 'dir' },
    win: { target: 'dir' },
    // Ad-hoc signed: Apple silicon runs no unsigned code, and a CI runner has no certificate.
    mac: { target: 'dir', identity: '-', hardenedRuntime: false },
  };
  const platform = Platform.current();
  const arch: Arch = archFromString(process.arch);
  await build({ projectDir: paths.stage, targets: platform.createTarget('dir', arch), config });
  if (hooks.added.length === 0) throw new Error(`the electron-builder hooks added nothing for ${version}`);
  return process.platform === 'darwin' ? join(appOutDir, `${PRODUCT_NAME}.app`) : appOutDir;
}

/** The program to start in an install folder. */
function executableOf(installDir: string): string {
  if (process.platform === 'win32') return join(installDir, `${PRODUCT_NAME}.exe`);
  if (process.platform === 'darwin') return join(installDir, 'Contents', 'MacOS', PRODUCT_NAME);
  return join(installDir, APP_NAME);
}

interface ReportLine {
  event: string;
  version: string;
  pid: number;
  update?: string;
  exe?: string;
  code?: string;
  message?: string;
}

async function readReport(): Promise<ReportLine[]> {
  const text = await readFile(paths.report, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ReportLine);
}

/** Every file below `dir` whose name ends with `.log`, for the post-mortem. */
async function logsUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith('.log')).map((e) => join(e.parentPath, e.name));
}

/** Starts the installed 1.0.0 and waits until the relaunched 1.1.0 reports a healthy start and that it is up to date. */
async function launchAndUpdate(installDir: string, url: string): Promise<ReportLine[]> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TUFUP_DEMO_URL: url,
    TUFUP_DEMO_USER_DATA: paths.userData,
    TUFUP_DEMO_REPORT: paths.report,
    ELECTRON_ENABLE_LOGGING: '1',
    // GitHub's Ubuntu runners forbid the unprivileged namespaces Chromium's sandbox needs; the env form
    // (not --no-sandbox) reaches the relaunched app too.
    ...(process.platform === 'linux' ? { ELECTRON_DISABLE_SANDBOX: '1' } : {}),
  };
  delete env.ELECTRON_RUN_AS_NODE;
  const exe = executableOf(installDir);
  note(`starting ${exe}`);
  const first: ChildProcess = spawn(exe, [], { env, stdio: 'inherit' });
  first.on('exit', (code) => note(`the first process (1.0.0) exited with ${String(code)}`));
  const deadline = Date.now() + Number(args.timeout) * 1000;
  let lines: ReportLine[] = [];
  while (Date.now() < deadline) {
    lines = await readReport();
    if (lines.some((l) => l.event === 'error')) break;
    if (lines.some((l) => l.event === 'up-to-date' && l.version === VERSIONS[1])) break;
    await delay(500);
  }
  for (const l of lines) note(`report: ${JSON.stringify(l)}`);
  // An app that did not finish (a failed run) must not outlive the run: the installer started it detached.
  for (const pid of new Set([first.pid, ...lines.map((l) => l.pid)])) {
    if (pid === undefined) continue;
    try {
      process.kill(pid);
      note(`stopped process ${pid}, still running`);
    } catch {
      // Already gone, as it should be.
    }
  }
  return lines;
}

function check(lines: ReportLine[], installDir: string): string[] {
  const problems: string[] = [];
  const has = (predicate: (l: ReportLine) => boolean, what: string): void => {
    if (!lines.some(predicate)) problems.push(`the app never reported ${what}`);
  };
  for (const l of lines.filter((x) => x.event === 'error')) problems.push(`the app reported an error: ${l.code ?? ''} ${l.message ?? ''}`);
  has((l) => l.event === 'healthy' && l.version === '1.0.0', 'a healthy start of 1.0.0');
  has((l) => l.event === 'update-downloaded' && l.version === '1.0.0' && l.update === '1.1.0', 'that 1.0.0 downloaded 1.1.0');
  has((l) => l.event === 'started' && l.version === '1.1.0', 'a start of 1.1.0 (the relaunch)');
  has((l) => l.event === 'healthy' && l.version === '1.1.0', 'a healthy start of 1.1.0 (markHealthy of the relaunched app)');
  has((l) => l.event === 'up-to-date' && l.version === '1.1.0', 'that 1.1.0 is up to date');
  const relaunched = lines.find((l) => l.event === 'started' && l.version === '1.1.0');
  if (relaunched?.exe !== undefined && !resolve(relaunched.exe).startsWith(resolve(installDir))) {
    problems.push(`1.1.0 ran from ${relaunched.exe}, not from the install folder ${installDir}`);
  }
  return problems;
}

async function main(): Promise<void> {
  process.stdout.write(`tufup CI smoke run on ${process.platform}-${process.arch}, work folder ${work}\n`);
  await rm(work, { recursive: true, force: true });
  await mkdir(paths.logs, { recursive: true });
  const runtime = await electronRuntime();
  const { url, server } = await step(`serving ${shown(paths.site)} on 127.0.0.1`, async () => {
    await mkdir(paths.site, { recursive: true });
    return serve(paths.site);
  });
  try {
    await step(`tufup-repo init: the repository of ${APP_NAME}, served at ${url}`, () =>
      initRepository({ repoDir: paths.repo, keysDir: paths.keys, appName: APP_NAME, url }),
    );
    await step('staging the demo app: npm pack the client, npm install it into the app, build main and preload', stageApp);
    const installs: Record<string, string> = {};
    for (const version of VERSIONS) {
      installs[version] = await step(`electron-builder: packaging ${PRODUCT_NAME} ${version} (Electron ${runtime.version}); the hooks add it to the repository`, () =>
        packageRelease(version, runtime),
      );
    }
    const result = await step(`tufup-repo publish --to ${shown(paths.site)}`, () => publishRepository({ repoDir: paths.repo, to: paths.site }));
    note(`uploaded ${result.uploaded.length} files (${result.bytes} bytes), timestamp.json last`);
    const shipped = installs[VERSIONS[0]] ?? '';
    const resources = process.platform === 'darwin' ? join(shipped, 'Contents', 'Resources') : join(shipped, 'resources');
    await step(`updating the packaged 1.0.0 with the client core, from what its ${relative(shipped, join(resources, 'tufup.json'))} says`, async () => {
      const trust = parseTrustFile(await readFile(join(resources, 'tufup.json')));
      if (trust.appName !== APP_NAME || trust.url !== url) throw new Error(`the shipped tufup.json names ${trust.appName} at ${trust.url ?? '(no URL)'}`);
      const client = new UpdateClient({
        appName: trust.appName,
        currentVersion: VERSIONS[0],
        installDir: shipped,
        metadataUrl: `${trust.url}/metadata/`,
        targetsUrl: `${trust.url}/targets/`,
        cacheDir: join(work, 'client-check'),
        trustedRoot: trust.root,
      });
      const info = await client.checkForUpdates();
      if (info?.version !== VERSIONS[1]) throw new Error(`the client found ${info?.version ?? 'no update'}, not ${VERSIONS[1]}`);
      const staged = await client.downloadUpdate(info);
      note(`found ${info.version} (${info.plan.strategy}, ${info.plan.downloadSize} bytes to download); downloaded, verified and staged in ${relative(work, staged.stagedDir)}`);
    });
    const installDir = await step('installing 1.0.0 where a user would (a folder the user owns)', async () => {
      const into = process.platform === 'darwin' ? join(paths.install, 'Applications', `${PRODUCT_NAME}.app`) : join(paths.install, PRODUCT_NAME);
      await cp(shipped, into, { recursive: true, verbatimSymlinks: true });
      note(`${into} (${(await stat(into)).isDirectory() ? 'folder' : 'file'})`);
      return into;
    });
    if (args['no-launch']) {
      process.stdout.write(`[${++stepNumber}/${STEPS}] skipped (--no-launch): starting ${executableOf(installDir)}\n`);
      note(`with TUFUP_DEMO_URL=${url} TUFUP_DEMO_USER_DATA=${paths.userData} TUFUP_DEMO_REPORT=${paths.report}`);
      process.stdout.write('smoke run: every step before the launch passed\n');
      return;
    }
    const lines = await step('starting 1.0.0: it must find 1.1.0, download it, quit, be swapped, relaunch as 1.1.0 and mark it healthy', () =>
      launchAndUpdate(installDir, url),
    );
    const problems = check(lines, installDir);
    if (problems.length > 0) {
      for (const log of [...(await logsUnder(paths.userData)), ...(await logsUnder(paths.install))]) {
        process.stdout.write(`\n--- ${log}\n${await readFile(log, 'utf8').catch(() => '')}`);
      }
      throw new Error(problems.join('\n'));
    }
    process.stdout.write('smoke run passed: the relaunched app reported 1.1.0 and a healthy start\n');
  } finally {
    server.close();
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(`smoke run FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
