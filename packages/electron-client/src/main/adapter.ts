import type { Logger } from '../core/index.js';

/** The update worker as the main process sees it: Electron's `UtilityProcess`, or a forked child in tests. */
export interface WorkerProcess {
  postMessage(message: unknown): void;
  /** Ends the worker; an `exit` event follows. */
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

/** A renderer the main process can send to: a `WebContents`. */
export interface RendererTarget {
  readonly id: number;
  send(channel: string, message: unknown): void;
  isDestroyed(): boolean;
  onDestroyed(listener: () => void): void;
}

/** Who made an `ipcMain.handle` call. */
export interface InvokeContext {
  sender: RendererTarget;
  /** URL of the calling frame; undefined when the frame navigated away or was destroyed (`senderFrame` null). */
  frameUrl: string | undefined;
  /** Whether the calling frame is a window's top frame, not an iframe. */
  topFrame: boolean;
}

/**
 * The few Electron calls the updater makes, behind one interface (like electron-updater's AppAdapter),
 * so the updater's logic runs and is tested without Electron. `electronAdapter()` is the real one.
 */
export interface ElectronAdapter {
  /** `app.getName()`. */
  appName(): string;
  /** `app.getVersion()`. */
  appVersion(): string;
  /** `app.getPath('userData')`. */
  userDataPath(): string;
  /** `app.getPath('home')`. */
  homePath(): string;
  /** `process.versions`: `electron` and `node`. */
  versions(): { electron?: string | undefined; node: string };
  /** `process.env`: the cache folder and the install checks read it. */
  env(): Readonly<Record<string, string | undefined>>;
  /** `app.isPackaged`. */
  isPackaged(): boolean;
  /** `process.resourcesPath`. */
  resourcesPath(): string;
  /** `app.getAppPath()`: the app's folder or asar archive, where its own pages, package.json and node_modules are. */
  appPath(): string;
  /** `process.execPath`. */
  execPath(): string;
  /** `process.argv`, for the relaunch command. */
  argv(): readonly string[];
  /** `process.pid` of the main process: the installer waits for it to exit. */
  pid(): number;
  /** `app.whenReady()`: a utility process cannot be forked before. */
  whenReady(): Promise<void>;
  /** `app.quit()`. */
  quit(): void;
  /** `app.on('will-quit')`: after every window closed, when the app really quits. */
  onWillQuit(listener: () => void): void;
  /**
   * `utilityProcess.fork(modulePath)`, with `respondToAuthRequestsFromMainProcess` so that proxy logins
   * reach the app's `login` handling (see electron-adapter.ts).
   */
  forkWorker(modulePath: string): WorkerProcess;
  /** `ipcMain.handle(channel, ...)`. */
  handle(channel: string, handler: (context: InvokeContext, ...args: unknown[]) => Promise<unknown>): void;
  /** `ipcMain.removeHandler(channel)`. */
  removeHandler(channel: string): void;
  /** Shows a system notification (`new Notification(...).show()`), when the system supports them. */
  notify(title: string, body: string): void;
  /** The logger used when the options name none: electron-log, when the app has it installed. */
  defaultLogger(): Logger | undefined;
}
