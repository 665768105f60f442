import { contextBridge, ipcRenderer } from 'electron';
import { createBridge } from './renderer-bridge.js';

/** The global name renderers find the bridge under (`window.tufup`). @default 'tufup' */
export const BRIDGE_KEY = 'tufup';

/** Exposes the updater bridge to the page through `contextBridge`; call it from the window's preload script. */
export function exposeUpdater(key: string = BRIDGE_KEY): void {
  contextBridge.exposeInMainWorld(key, createBridge(ipcRenderer));
}

export { createBridge, type UpdaterBridge, type IpcRendererLike } from './renderer-bridge.js';
export type { UpdaterStatus, UpdateSummary, UnsupportedInstall, RendererEventMap, RequestResult, InstallOptions } from '../ipc/channels.js';
export type { ErrorPayload } from '../ipc/errors.js';
