/**
 * Main process of the demo app: one window, updated by @tufup/electron-client.
 *
 * Built like a real app's main: scripts/demo-app-build.ts bundles this file and @tufup/electron-client
 * into one ES module (out/main.js) with esbuild; only `electron` stays external, and no other file is
 * copied next to it.
 *
 * Where updates come from is read from the environment, so the same build runs against any local demo
 * repository (`npm run demo:electron` sets these):
 * - `TUFUP_DEMO_URL`: base URL of the repository (`metadata/` and `targets/` below it). Required.
 * - `TUFUP_DEMO_USER_DATA`: a userData folder to use instead of the system one (lock, logs); the update
 *   cache then goes into it (`<userData>/cache`) instead of the OS cache folder.
 * - `TUFUP_DEMO_REPORT`: a file to append one JSON line to at each step (started, healthy, update-downloaded,
 *   up-to-date, error), for the CI smoke run (scripts/ci-smoke.ts). With it, the demo installs a downloaded
 *   update at once (quit, install, relaunch) and quits when it is up to date, so a run ends by itself.
 * Unpackaged (`electron <folder>`), the trust file is the `tufup.json` shipped in the bundle next to
 * package.json: it names the app as the repository knows it. A packaged app uses the client's default,
 * `<resources>/tufup.json`.
 */
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, session } from 'electron';
import { createUpdater, type TufupUpdater, type UpdaterOptions } from '@tufup/electron-client';

/** Environment variable naming the repository's base URL. */
export const URL_ENV = 'TUFUP_DEMO_URL';
/** Environment variable naming a userData folder to use instead of the system one. */
export const USER_DATA_ENV = 'TUFUP_DEMO_USER_DATA';
/** Environment variable naming the smoke run's report file (one JSON line per step). */
export const REPORT_ENV = 'TUFUP_DEMO_REPORT';
/** The trust file shipped in the bundle, next to package.json. */
export const TRUST_FILE = 'tufup.json';

const outDir = dirname(fileURLToPath(import.meta.url));

function updaterOptions(url: string, cacheDir: string | undefined): UpdaterOptions {
  // The demo shows what the updater says in the terminal it was started from.
  const options: UpdaterOptions = { url, logger: console, ...(cacheDir === undefined ? {} : { cacheDir }) };
  if (app.isPackaged) return options;
  // Started as `electron <folder>`: the folder is the install that gets replaced, and it carries its trust file.
  const appDir = app.getAppPath();
  return { ...options, installDir: appDir, trustedRoot: join(appDir, TRUST_FILE) };
}

async function openWindow(): Promise<BrowserWindow> {
  const window = new BrowserWindow({
    width: 560,
    height: 540,
    title: `Tufup demo ${app.getVersion()}`,
    webPreferences: {
      preload: join(outDir, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  });
  // The page is local; it never needs to navigate or open windows, so nothing else can reach the bridge.
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  await window.loadFile(join(outDir, '..', 'renderer', 'index.html'));
  return window;
}

/** Appends one step to the smoke run's report, when there is one. */
function report(event: string, detail: Record<string, unknown> = {}): void {
  const file = process.env[REPORT_ENV];
  if (file === undefined || file === '') return;
  appendFileSync(file, `${JSON.stringify({ event, version: app.getVersion(), pid: process.pid, time: new Date().toISOString(), ...detail })}\n`);
}

/** The smoke run: install what downloads at once, quit when up to date, report every step. */
function smokeRun(updater: TufupUpdater): void {
  if (process.env[REPORT_ENV] === undefined) return;
  updater.on('update-downloaded', (info) => {
    report('update-downloaded', { update: info.version });
    updater.quitAndInstall({ relaunch: true });
  });
  updater.on('update-not-available', () => {
    report('up-to-date');
    app.quit();
  });
  updater.on('error', (error) => {
    report('error', { code: error.code, message: error.message });
    app.exit(1);
  });
}

async function main(): Promise<void> {
  const userData = process.env[USER_DATA_ENV];
  // Before the updater and the lock, which both live under userData.
  if (userData !== undefined && userData !== '') app.setPath('userData', userData);
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  const url = process.env[URL_ENV];
  const cacheDir = userData === undefined || userData === '' ? undefined : join(userData, 'cache');
  const updater = url === undefined || url === '' ? undefined : createUpdater(updaterOptions(url, cacheDir));
  await app.whenReady();
  report('started', { exe: process.execPath });
  if (updater === undefined) {
    dialog.showErrorBox('Tufup demo', `Set ${URL_ENV} to the demo repository's URL, or start the demo with \`npm run demo:electron\`.`);
    app.quit();
    return;
  }
  // The page needs no camera, notifications or other permissions.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  // An update downloaded in an earlier run but never installed is installed now, before any window opens.
  const installing = await updater.applyPendingUpdate().catch((error: unknown) => {
    console.error('tufup demo: could not finish an earlier update', error);
    return false;
  });
  if (installing) return;
  smokeRun(updater);
  app.on('window-all-closed', () => app.quit());
  let window = await openWindow();
  app.on('second-instance', () => {
    if (window.isDestroyed()) void openWindow().then((w) => (window = w));
    else window.focus();
  });
  // This version works: an update relaunched by the installer is kept instead of rolled back.
  await updater.markHealthy().then(
    () => report('healthy'),
    (error: unknown) => console.error('tufup demo: could not confirm a healthy start', error),
  );
  // Errors and progress reach the window through the bridge; this promise never rejects.
  void updater.checkForUpdatesAndNotify();
}

main().catch((error: unknown) => {
  console.error('tufup demo: failed to start', error);
  app.exit(1);
});
