import { app, ipcMain, Notification, utilityProcess, type IpcMainInvokeEvent, type Session, type WebContents } from 'electron';
import type { ElectronAdapter, InvokeContext, RendererTarget } from './adapter.js';
import { ELECTRON_LOG_CHANNEL, loadElectronLog } from './electron-log.js';
import { forwardLogin, workerForkOptions } from './worker-network.js';

function rendererTarget(contents: WebContents): RendererTarget {
  return {
    id: contents.id,
    send: (channel, message) => contents.send(channel, message),
    isDestroyed: () => contents.isDestroyed(),
    onDestroyed: (listener) => contents.once('destroyed', listener),
  };
}

function invokeContext(event: IpcMainInvokeEvent): InvokeContext {
  // senderFrame is null once the frame navigated away or was destroyed: such a request is refused.
  const frame = event.senderFrame;
  return { sender: rendererTarget(event.sender), frameUrl: frame?.url, topFrame: frame !== null && frame.parent === null };
}

/** What the real adapter needs from the updater's options. */
export interface ElectronAdapterOptions {
  /** The session the worker's network requests use (`UpdaterOptions.session`). */
  session?: Session | undefined;
}

/** The adapter over the real Electron main-process API. */
export function electronAdapter(options: ElectronAdapterOptions = {}): ElectronAdapter {
  // Notifications lose their events when garbage-collected, so they are kept until closed.
  const shown = new Set<Notification>();
  return {
    appName: () => app.getName(),
    appVersion: () => app.getVersion(),
    userDataPath: () => app.getPath('userData'),
    homePath: () => app.getPath('home'),
    versions: () => process.versions,
    env: () => process.env,
    isPackaged: () => app.isPackaged,
    resourcesPath: () => process.resourcesPath,
    appPath: () => app.getAppPath(),
    execPath: () => process.execPath,
    argv: () => process.argv,
    pid: () => process.pid,
    whenReady: () => app.whenReady(),
    quit: () => app.quit(),
    onWillQuit: (listener) => app.on('will-quit', listener),
    forkWorker: (modulePath) => {
      const child = utilityProcess.fork(modulePath, [], workerForkOptions(options.session));
      // With a session, logins are raised on the process itself; the app's app.on('login') answers them.
      if (options.session !== undefined) child.on('login', (event, details, authInfo, callback) => forwardLogin(app, event, details, authInfo, callback));
      return child;
    },
    handle: (channel, handler) => ipcMain.handle(channel, (event, ...args: unknown[]) => handler(invokeContext(event), ...args)),
    removeHandler: (channel) => ipcMain.removeHandler(channel),
    notify: (title, body) => {
      if (!Notification.isSupported()) return;
      const notification = new Notification({ title, body });
      shown.add(notification);
      notification.once('close', () => shown.delete(notification));
      notification.show();
    },
    defaultLogger: () => loadElectronLog(app.getAppPath(), () => ipcMain.listenerCount(ELECTRON_LOG_CHANNEL) > 0),
  };
}
