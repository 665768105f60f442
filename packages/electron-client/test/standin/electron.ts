import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from '../../src/core/index.js';
import type { ElectronAdapter, InvokeContext, RendererTarget, WorkerProcess } from '../../src/main/adapter.js';
import type { IpcRendererLike } from '../../src/preload/renderer-bridge.js';

/**
 * The built worker bundle (the one the updater embeds and writes to its cache by default): a forked
 * child runs JavaScript, so tests run `npm run build` first.
 */
export const WORKER_PATH = fileURLToPath(new URL('../../dist/worker.cjs', import.meta.url));

/** Facts about the pretend app. */
export interface StandinFacts {
  name: string;
  version: string;
  userData: string;
  resourcesPath: string;
  execPath: string;
  /** `app.getAppPath()`. @default `<folder of execPath>/resources/app.asar`, as a packaged app has it */
  appPath?: string;
  /** The main process the installer waits for. @default process.pid */
  pid?: number;
  argv?: string[];
  /** `app.isPackaged`. @default true */
  packaged?: boolean;
  /** `app.getPath('home')`. @default `<userData>/../home` */
  home?: string;
  /** `process.env` as the updater sees it. @default {} (nothing of the test's own environment leaks in) */
  env?: Record<string, string | undefined>;
  /** `process.versions`. @default this Node's, as Electron 45 */
  versions?: { electron?: string; node: string };
}

type Handler = (context: InvokeContext, ...args: unknown[]) => Promise<unknown>;

/**
 * A window's WebContents and its renderer side at once: main sends to it, and the page listens through
 * {@link ipcRenderer}. Values are structured-cloned both ways, as Electron's IPC does.
 */
export class StandinWindow implements RendererTarget {
  private static nextId = 1;
  readonly id = StandinWindow.nextId++;
  /** Everything main sent, in order. */
  readonly received: { channel: string; message: unknown }[] = [];
  private destroyed = false;
  private readonly destroyedListeners: (() => void)[] = [];
  private readonly rendererListeners: { channel: string; listener: (event: unknown, ...args: unknown[]) => void }[] = [];

  constructor(
    private readonly electron: StandinElectron,
    /** The URL of the page; undefined once it navigated away (`senderFrame` null). */
    public url: string | undefined,
    public topFrame = true,
  ) {}

  send(channel: string, message: unknown): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.received.push({ channel, message });
    for (const entry of this.rendererListeners) if (entry.channel === channel) entry.listener({ sender: 'ipc-event' }, structuredClone(message));
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  onDestroyed(listener: () => void): void {
    this.destroyedListeners.push(listener);
  }

  /** Closes the window. */
  destroy(): void {
    this.destroyed = true;
    for (const listener of this.destroyedListeners.splice(0)) listener();
  }

  /** The page's `ipcRenderer`. */
  get ipcRenderer(): IpcRendererLike {
    return {
      invoke: (channel, ...args) => this.electron.invoke(this, channel, ...args),
      on: (channel, listener) => this.rendererListeners.push({ channel, listener }),
    };
  }
}

/** A thin stand-in for the Electron main process: the worker is a real child process, the rest is records. */
export class StandinElectron implements ElectronAdapter {
  readonly workers: ChildProcess[] = [];
  /** Every message main posted to a worker, in order. */
  readonly workerMessages: unknown[] = [];
  readonly notifications: { title: string; body: string }[] = [];
  quitCount = 0;
  /** Called with each forked worker, e.g. to kill it. */
  onFork: ((child: ChildProcess) => void) | undefined;
  private readonly handlers = new Map<string, Handler>();
  private readonly willQuit: (() => void)[] = [];

  constructor(private readonly facts: StandinFacts) {}

  appName(): string {
    return this.facts.name;
  }
  appVersion(): string {
    return this.facts.version;
  }
  userDataPath(): string {
    return this.facts.userData;
  }
  homePath(): string {
    return this.facts.home ?? join(dirname(this.facts.userData), 'home');
  }
  versions(): { electron?: string; node: string } {
    return this.facts.versions ?? { electron: '45.4.1', node: process.versions.node };
  }
  env(): Record<string, string | undefined> {
    return this.facts.env ?? {};
  }
  isPackaged(): boolean {
    return this.facts.packaged ?? true;
  }
  resourcesPath(): string {
    return this.facts.resourcesPath;
  }
  appPath(): string {
    return this.facts.appPath ?? join(dirname(this.facts.execPath), 'resources', 'app.asar');
  }
  /** The file URL of one of the app's own pages (inside {@link appPath}). */
  appPage(file = 'index.html'): string {
    return pathToFileURL(join(this.appPath(), file)).href;
  }
  execPath(): string {
    return this.facts.execPath;
  }
  argv(): readonly string[] {
    return this.facts.argv ?? [this.facts.execPath];
  }
  pid(): number {
    return this.facts.pid ?? process.pid;
  }
  whenReady(): Promise<void> {
    return Promise.resolve();
  }
  /** Like `app.quit()` with no window vetoing: `will-quit` runs. */
  quit(): void {
    this.quitCount++;
    for (const listener of this.willQuit) listener();
  }
  onWillQuit(listener: () => void): void {
    this.willQuit.push(listener);
  }

  /** `utilityProcess.fork`, played by `child_process.fork` with structured-clone serialization. */
  forkWorker(modulePath: string): WorkerProcess {
    const child = fork(modulePath, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.workers.push(child);
    this.onFork?.(child);
    return {
      postMessage: (message) => {
        this.workerMessages.push(message);
        // Electron drops a message to a utility process that is exiting; so does the stand-in.
        if (child.connected) child.send(message as object, () => undefined);
      },
      kill: () => child.kill(),
      on: (event: 'message' | 'exit', listener: (value: never) => void) => {
        const call = listener as (value: unknown) => void;
        // A utility process reports an exit code only; a signal death shows up as a non-zero code.
        return event === 'message' ? child.on('message', call) : child.on('exit', (code) => call(code ?? 1));
      },
    };
  }

  handle(channel: string, handler: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, handler);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  notify(title: string, body: string): void {
    this.notifications.push({ title, body });
  }
  defaultLogger(): Logger | undefined {
    // Tests stay silent.
    return undefined;
  }

  /** Opens a window showing `url`. */
  window(url: string | undefined, topFrame = true): StandinWindow {
    return new StandinWindow(this, url, topFrame);
  }

  /** `ipcRenderer.invoke` arriving at `ipcMain.handle`; a handler's error reaches the page as a rejection. */
  async invoke(from: StandinWindow, channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (handler === undefined) throw new Error(`No handler registered for '${channel}'`);
    const result = await handler({ sender: from, frameUrl: from.url, topFrame: from.topFrame }, ...structuredClone(args));
    return structuredClone(result);
  }

  /** Ends every worker still running. */
  killWorkers(): void {
    for (const child of this.workers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
