import { app, ipcMain, Notification, utilityProcess, type IpcMainInvokeEvent, type WebContents } from 'electron';
import log from 'electron-log/main';
import type { ElectronAdapter, InvokeContext, RendererTarget } from './adapter.js';

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

/** The adapter over the real Electron main-process API. */
export function electronAdapter(): ElectronAdapter {
  // Notifications lose their events when garbage-collected, so they are kept until closed.
  const shown = new Set<Notification>();
  return {
    appName: () => app.getName(),
    appVersion: () => app.getVersion(),
    userDataPath: () => app.getPath('userData'),
    isPackaged: () => app.isPackaged,
    resourcesPath: () => process.resourcesPath,
    appPath: () => app.getAppPath(),
    execPath: () => process.execPath,
    argv: () => process.argv,
    pid: () => process.pid,
    whenReady: () => app.whenReady(),
    quit: () => app.quit(),
    onWillQuit: (listener) => app.on('will-quit', listener),
    forkWorker: (modulePath) => utilityProcess.fork(modulePath, [], { serviceName: 'tufup updater' }),
    handle: (channel, handler) => ipcMain.handle(channel, (event, ...args: unknown[]) => handler(invokeContext(event), ...args)),
    removeHandler: (channel) => ipcMain.removeHandler(channel),
    notify: (title, body) => {
      if (!Notification.isSupported()) return;
      const notification = new Notification({ title, body });
      shown.add(notification);
      notification.once('close', () => shown.delete(notification));
      notification.show();
    },
    defaultLogger: () => log,
  };
}
