/**
 * A stand-in for the `electron` module, so the demo app's real main.js runs under plain Node (Electron
 * cannot start on the build machine). `register.ts` points `import 'electron'` here. The parts the demo
 * and @tufup/electron-client use behave as Electron documents them; everything they do is appended to
 * the JSON-lines file `STANDIN_REPORT` for the test to read.
 *
 * - The app is the folder `STANDIN_APP_PATH` (name and version from its package.json), unpackaged.
 * - `utilityProcess.fork` is `child_process.fork`, which the update worker supports.
 * - A window runs its preload script the way a sandboxed renderer does (only `require('electron')`),
 *   then acts as the demo page would: it listens to every updater event through `window.tufup`, and
 *   with `STANDIN_CLICK_INSTALL=1` presses "Restart to update" as soon as an update is downloaded.
 * - `app.quit()` emits before-quit, will-quit and quit, then exits the process.
 */
import { fork } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createContext, runInContext } from 'node:vm';
import type { UpdaterBridge } from '@tufup/electron-client/preload';

type Listener = (...args: unknown[]) => void;
type Handler = (event: unknown, ...args: unknown[]) => unknown;

/** Appends one record to the report file. */
export function report(record: Record<string, unknown>): void {
  const file = process.env.STANDIN_REPORT;
  if (file !== undefined) appendFileSync(file, `${JSON.stringify({ pid: process.pid, ...record })}\n`);
}

class Emitter {
  private readonly listeners = new Map<string, Listener[]>();

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  once(event: string, listener: Listener): this {
    const wrapped: Listener = (...args) => {
      this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== wrapped));
      listener(...args);
    };
    return this.on(event, wrapped);
  }

  emit(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }
}

const appPath = process.env.STANDIN_APP_PATH ?? process.cwd();
const pkg = JSON.parse(readFileSync(join(appPath, 'package.json'), 'utf8')) as { name: string; productName?: string; version: string };
const paths = new Map<string, string>([['userData', join(appPath, '..', 'user-data')]]);
const handlers = new Map<string, Handler>();
const windows = new Set<BrowserWindow>();

class App extends Emitter {
  readonly isPackaged = false;
  getName = (): string => pkg.productName ?? pkg.name;
  getVersion = (): string => pkg.version;
  getAppPath = (): string => appPath;
  getPath = (name: string): string => paths.get(name) ?? join(appPath, '..', name);
  setPath = (name: string, path: string): void => void paths.set(name, path);
  whenReady = (): Promise<void> => Promise.resolve();
  requestSingleInstanceLock = (): boolean => true;
  quit = (): void => {
    report({ type: 'quit' });
    this.emit('before-quit', { preventDefault: () => undefined });
    for (const window of windows) window.destroy();
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
};

let nextId = 1;

class WebContents extends Emitter {
  readonly id = nextId++;
  private destroyed = false;
  /** The page's listeners for messages from main, by channel. */
  readonly pageListeners = new Map<string, ((event: unknown, ...args: unknown[]) => void)[]>();

  send = (channel: string, ...args: unknown[]): void => {
    if (this.destroyed) throw new Error('Object has been destroyed');
    for (const listener of this.pageListeners.get(channel) ?? []) listener({}, ...args.map((a) => structuredClone(a)));
  };
  isDestroyed = (): boolean => this.destroyed;
  setWindowOpenHandler = (): void => undefined;
  destroy(): void {
    this.destroyed = true;
    this.emit('destroyed');
  }
}

interface WindowOptions {
  webPreferences?: { preload?: string; contextIsolation?: boolean; sandbox?: boolean; nodeIntegration?: boolean };
  [key: string]: unknown;
}

export class BrowserWindow extends Emitter {
  readonly webContents = new WebContents();
  private readonly preload: string | undefined;
  private url = '';

  constructor(options: WindowOptions = {}) {
    super();
    this.preload = options.webPreferences?.preload;
    windows.add(this);
    report({ type: 'window', webPreferences: options.webPreferences ?? {} });
  }

  static getAllWindows(): BrowserWindow[] {
    return [...windows];
  }

  async loadFile(file: string): Promise<void> {
    this.url = pathToFileURL(file).href;
    readFileSync(file);
    report({ type: 'load', file });
    const tufup = this.runPreload();
    if (tufup !== undefined) await actLikeThePage(tufup);
  }

  isDestroyed = (): boolean => this.webContents.isDestroyed();
  focus = (): void => undefined;
  show = (): void => undefined;

  destroy(): void {
    windows.delete(this);
    this.webContents.destroy();
    this.emit('closed');
  }

  /** Runs the preload as a sandboxed renderer does and returns what it exposed as `window.tufup`. */
  private runPreload(): UpdaterBridge | undefined {
    if (this.preload === undefined) return undefined;
    const exposed = new Map<string, unknown>();
    const contents = this.webContents;
    const frame = { url: this.url, parent: null };
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
      ipcRenderer: {
        invoke: async (channel: string, ...args: unknown[]): Promise<unknown> => {
          const handler = handlers.get(channel);
          if (handler === undefined) throw new Error(`No handler registered for '${channel}'`);
          return structuredClone(await handler({ sender: contents, senderFrame: frame }, ...args.map((a) => structuredClone(a))));
        },
        on: (channel: string, listener: (event: unknown, ...args: unknown[]) => void): void => {
          contents.pageListeners.set(channel, [...(contents.pageListeners.get(channel) ?? []), listener]);
        },
      },
    };
    const require = (id: string): unknown => {
      if (id === 'electron') return electron;
      throw new Error(`module not found: ${id}`);
    };
    runInContext(readFileSync(this.preload, 'utf8'), createContext({ require }), { filename: this.preload });
    return exposed.get('tufup') as UpdaterBridge | undefined;
  }
}

const EVENTS = ['checking-for-update', 'update-available', 'update-not-available', 'download-progress', 'update-downloaded', 'error'] as const;

/** What the demo page does with the bridge, plus the user's click on "Restart to update". */
async function actLikeThePage(tufup: UpdaterBridge): Promise<void> {
  for (const event of EVENTS) {
    tufup.on(event, (...args: unknown[]) => report({ type: 'event', event, args }));
  }
  tufup.on('update-downloaded', () => {
    if (process.env.STANDIN_CLICK_INSTALL !== '1') return;
    report({ type: 'click', button: 'install' });
    void tufup.install().then((result) => report({ type: 'install-result', result }));
  });
  report({ type: 'status', status: await tufup.status() });
}

export const dialog = {
  showErrorBox: (title: string, content: string): void => report({ type: 'error-box', title, content }),
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler: (handler: unknown): void => report({ type: 'permission-handler', set: typeof handler === 'function' }),
  },
};

export const utilityProcess = {
  fork: (modulePath: string, args: string[] = []) => {
    // Structured clone, as Electron's postMessage: the trusted root crosses as bytes.
    const child = fork(modulePath, args, { stdio: 'inherit', serialization: 'advanced' });
    return {
      get pid() {
        return child.pid;
      },
      postMessage: (message: unknown): void => void child.send(message as object),
      kill: (): boolean => child.kill(),
      on(event: string, listener: Listener) {
        if (event === 'exit') child.on('exit', (code) => listener(code ?? 0));
        else child.on(event, listener);
        return this;
      },
    };
  },
};

export class Notification extends Emitter {
  static isSupported(): boolean {
    return false;
  }

  show(): void {
    report({ type: 'notification' });
  }
}

/** Unused by main; present because the client's preload module imports them by name. */
export const contextBridge = { exposeInMainWorld: (): void => undefined };
export const ipcRenderer = { invoke: (): Promise<void> => Promise.resolve(), on: (): void => undefined };

report({ type: 'start', version: pkg.version, argv: process.argv });
