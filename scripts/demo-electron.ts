/**
 * `npm run demo:electron`: the real Electron demo app updating itself from a local repository. Needs a
 * machine where Electron starts (it cannot on the project's build machine).
 *
 *   npm run demo:electron                                  # build, then this script
 *   node_modules/.bin/node scripts/demo-electron.ts [--port N] [--no-launch] [--dir DIR]   # after `npm run build`
 *
 * Builds and publishes versions 1.0.0, 1.1.0 and 1.2.0 of the demo app to a fresh repository (the same one
 * `npm run demo` makes) in .tmp/electron-demo/, serves it on 127.0.0.1, installs 1.0.0 by
 * extracting its archive, and starts `electron <install folder>` with TUFUP_DEMO_URL and
 * TUFUP_DEMO_USER_DATA pointing at the repository and a demo userData folder. The install lies inside
 * the project so that the app finds @tufup/electron-client in the project's node_modules. The server
 * runs until Ctrl+C, which also removes the folder. With --no-launch it prepares and serves everything
 * and prints the command that starts Electron, for starting it by hand. --dir replaces the working folder;
 * it must lie inside the project, for the reason above.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { extractArchive, messageOf } from '@tufup/bundle';
import { ROOT } from './demo-app-build.ts';
import { createDemoRepository, DEMO_APP_NAME, serveRepository } from './demo-repo.ts';

/** The default working folder: inside the project (see above), ignored by git. */
const DEFAULT_WORK_DIR = join(ROOT, '.tmp', 'electron-demo');

/** The Electron binary: the `electron` package's main export, when its download succeeded. */
function electronBinary(): string {
  try {
    return createRequire(import.meta.url)('electron') as string;
  } catch (cause) {
    throw new Error(`Electron is not available on this machine (${messageOf(cause)}); \`npm run demo\` shows the same update without it`, { cause });
  }
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const port = Number(option('--port') ?? 0);
  const workDir = resolve(option('--dir') ?? DEFAULT_WORK_DIR);
  const launch = !process.argv.includes('--no-launch');
  const electron = launch ? electronBinary() : 'npx electron';

  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const repo = await createDemoRepository(workDir, (r) => console.log(`published ${DEMO_APP_NAME} ${r.version}`));
  const first = repo.published[0];
  if (first === undefined) throw new Error('nothing was published');
  const server = await serveRepository(repo.repoDir, port);
  const installDir = join(workDir, 'apps', DEMO_APP_NAME);
  await extractArchive(join(repo.repoDir, first.archive.file), installDir, { expected: first.tar });
  const userData = join(workDir, 'user-data');

  console.log(`
repository  ${server.url}   (${repo.repoDir})
installed   ${DEMO_APP_NAME} ${first.version} in ${installDir}
userData    ${userData}   (update cache: tufup/, installer log: tufup/install/install.log)

The window checks for updates at start: it shows 1.2.0 with its release notes and downloads it as a
patch chain (progress bar). Click "Restart to update": the app quits, the installer swaps the folder
and relaunches it as 1.2.0, which confirms a healthy start. Press Ctrl+C here to stop and clean up.
`);

  const env: NodeJS.ProcessEnv = { ...process.env, TUFUP_DEMO_URL: server.url, TUFUP_DEMO_USER_DATA: userData };
  delete env.ELECTRON_RUN_AS_NODE;
  let app: ChildProcess | undefined;
  if (launch) {
    app = spawn(electron, [installDir], { stdio: 'inherit', env });
    app.on('exit', (code) => console.log(`electron exited with ${String(code)}; after an install the relaunched app keeps running`));
  } else {
    console.log(`Start the app with:\n  TUFUP_DEMO_URL=${server.url} TUFUP_DEMO_USER_DATA=${userData} ${electron} ${installDir}\n`);
  }

  const stop = async (): Promise<void> => {
    if (app?.exitCode === null) app.kill();
    await server.close();
    await rm(workDir, { recursive: true, force: true });
    console.log(`stopped the server and removed ${workDir}`);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

try {
  await main();
} catch (error) {
  console.error(`demo:electron failed: ${messageOf(error)}`);
  process.exitCode = 1;
}
