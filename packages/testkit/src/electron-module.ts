/**
 * A thin stand-in for the `electron` module, so an app's real (bundled) main file runs under plain Node:
 * `node --import <testkit>/dist/register-electron.js <install>/resources/app/main.mjs` (Electron cannot start on the
 * build machine). Only what an updating main process touches is here, behaving as Electron documents it;
 * what happens is appended to the JSON-lines file `STANDIN_REPORT` for the test to read.
 *
 * - The app is the folder of the main file (its package.json gives name, productName and version),
 *   packaged: `process.resourcesPath` is the folder above it, `process.execPath` the launcher
 *   `STANDIN_EXEC_PATH` (what the installer relaunches), `process.argv` starts with it.
 * - `app.getPath`: `userData` and `home` from `STANDIN_USER_DATA` and `STANDIN_HOME`.
 * - `utilityProcess.fork` is `child_process.fork` on the real Node (structured clone, as Electron's).
 * - A window's page subscribes to the updater's events over the `tufup:` IPC channels (what the preload
 *   bridge does), when the updater serves them, and records them; with `STANDIN_CLICK_INSTALL=1` it asks to install (and relaunch) as
 *   soon as an update is downloaded, as a click on "Restart to update" would.
 * - `app.quit()` emits before-quit, will-quit and quit, then ends the process.
 */
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type Handler = (event: unknown, ...args: unknown[]) => unknown;

/** Appends one record to the report file. */
function report(record: Record<string, unknown>): void {
  const file = process.env.STANDIN_REPORT;
  if (file !== undefined) appendFileSync(file, `${JSON.stringify({ pid: process.pid, ...record })}\n`);
}

const node = process.execPath;
const main = resolve(process.argv[1] ?? '.');
const appPath = dirname(main);
const pkg = JSON.parse(readFileSync(join(appPath, 'package.json'), 'utf8')) as { name: string; productName?: string; version: string };
const execPath = process.env.STANDIN_EXEC_PATH ?? node;
// What a packaged Electron app sees of itself.
Object.assign(process, { resourcesPath: dirname(appPath), execPath, argv: [execPath, ...process.argv.slice(2)] });

const handlers = new Map<string, Handler>();
const paths = new Map<string, string>([
  ['userData', process.env.STANDIN_USER_DATA ?? join(appPath, 'user-data')],
  ['home', process.env.STANDIN_HOME ?? join(appPath, 'home')],
]);

class App extends EventEmitter {
  readonly isPackaged = true;
  getName = (): string => pkg.productName ?? pkg.name;
  getVersion = (): string => pkg.version;
  getAppPath = (): string => appPath;
  getPath = (name: string): string => paths.get(name) ?? join(appPath, name);
  whenReady = (): Promise<void> => new Promise((done) => setImmediate(done));
  requestSingleInstanceLock = (): boolean => {
    report({ type: 'single-instance-lock' });
    return true;
  };
  quit = (): void => {
    report({ type: 'quit' });
    this.emit('before-quit', { preventDefault: () => undefined });
    this.emit('will-quit', { preventDefault: () => undefined });
    this.emit('quit', {}, 0);
    setImmediate(() => process.exit(0));
  };
  exit = (code = 0): void => process.exit(code);
}

export const app = new App();

export const ipcMain = {
  handle: (channel: string, handler: Handler): void => {
    if (handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    handlers.set(channel, handler);
  },
  removeHandler: (channel: string): void => void handlers.delete(channel),
  listenerCount: (): number => 0,
};

export const utilityProcess = {
  fork: (modulePath: string, args: string[] = [], options: Record<string, unknown> = {}) => {
    report({ type: 'fork', modulePath, options: { ...options, session: options.session === undefined ? undefined : 'a session' } });
    const child = fork(modulePath, args, { execPath: node, execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const emitter = Object.assign(new EventEmitter(), {
      get pid() {
        return child.pid;
      },
      postMessage: (message: unknown): void => {
        if (child.connected) child.send(message as object, () => undefined);
      },
      kill: (): boolean => child.kill(),
    });
    child.on('message', (message) => emitter.emit('message', message));
    child.on('exit', (code) => emitter.emit('exit', code ?? 1));
    return emitter;
  },
};

export class Notification extends EventEmitter {
  private readonly options: { title: string; body: string };
  constructor(options: { title: string; body: string }) {
    super();
    this.options = options;
  }
  static isSupported(): boolean {
    return true;
  }
  show(): void {
    report({ type: 'notification', ...this.options });
  }
}

let nextId = 1;

/** A window: its page behaves as described at the top. */
export class BrowserWindow extends EventEmitter {
  private static readonly all = new Set<BrowserWindow>();
  readonly webContents = Object.assign(new EventEmitter(), { id: nextId++, send: (channel: string, ...args: unknown[]) => this.page(channel, args), isDestroyed: () => false });
  private url = '';

  constructor(options: Record<string, unknown> = {}) {
    super();
    BrowserWindow.all.add(this);
    report({ type: 'window', options });
  }

  static getAllWindows(): BrowserWindow[] {
    return [...BrowserWindow.all];
  }

  async loadFile(file: string): Promise<void> {
    const path = resolve(appPath, file);
    readFileSync(path);
    this.url = pathToFileURL(path).href;
    report({ type: 'load', file: path });
    // A page with tufup's preload bridge subscribes; an app without it (electron-updater's API) has none.
    if (handlers.has('tufup:subscribe')) report({ type: 'status', status: await this.invoke('tufup:subscribe') });
  }

  focus(): void {
    report({ type: 'focus' });
  }

  isDestroyed(): boolean {
    return false;
  }

  /** `ipcRenderer.invoke` from this window's top frame. */
  private async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = handlers.get(channel);
    if (handler === undefined) throw new Error(`No handler registered for '${channel}'`);
    const frame = { url: this.url, parent: null };
    return structuredClone(await handler({ sender: this.webContents, senderFrame: frame }, ...structuredClone(args)));
  }

  /** What the page does with a message from main. */
  private page(channel: string, args: unknown[]): void {
    const [message] = structuredClone(args) as [{ event: string; args: unknown[] }];
    if (channel !== 'tufup:event') return;
    report({ type: 'event', event: message.event, args: message.args });
    if (message.event === 'update-downloaded' && process.env.STANDIN_CLICK_INSTALL === '1') {
      report({ type: 'click', button: 'install' });
      void this.invoke('tufup:install').then((result) => report({ type: 'install-result', result }));
    }
  }
}

report({ type: 'start', version: pkg.version, main });
