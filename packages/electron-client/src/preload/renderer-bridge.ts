import {
  EVENT_CHANNEL,
  requestChannel,
  type InstallOptions,
  type RendererEvent,
  type RendererEventMap,
  type RendererRequest,
  type RendererRequestMap,
  type UpdaterEventName,
  type UpdaterStatus,
} from '../ipc/channels.js';

/** The part of Electron's `ipcRenderer` the bridge uses. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** What renderers get as `window.tufup`: subscribe to the updater's events, and ask it to act. */
export interface UpdaterBridge {
  /** Listens to one updater event; returns the function that stops listening. */
  on<K extends UpdaterEventName>(event: K, listener: (...args: RendererEventMap[K]) => void): () => void;
  /** Where the updater is now (also subscribes this window to events). */
  status(): Promise<UpdaterStatus>;
  /** Checks for an update. */
  check(): Promise<RendererRequestMap['check']['result']>;
  /** Downloads the update the last check found. */
  download(): Promise<RendererRequestMap['download']['result']>;
  /** Quits the app and installs the downloaded update. */
  install(options?: InstallOptions): Promise<RendererRequestMap['install']['result']>;
}

function isRendererEvent(value: unknown): value is RendererEvent {
  return typeof value === 'object' && value !== null && typeof (value as RendererEvent).event === 'string' && Array.isArray((value as RendererEvent).args);
}

/**
 * Builds the bridge over `ipcRenderer`: the renderer's end (`main/renderer-host.ts` serves it in main). Renderers never see `ipcRenderer` or the IPC event, only the
 * event's arguments, as Electron's security guide asks.
 */
export function createBridge(ipc: IpcRendererLike): UpdaterBridge {
  type AnyListener = (...args: unknown[]) => void;
  const listeners = new Map<UpdaterEventName, Set<AnyListener>>();
  let subscribed = false;

  const invoke = <K extends RendererRequest>(request: K, ...args: RendererRequestMap[K]['args']): Promise<RendererRequestMap[K]['result']> =>
    ipc.invoke(requestChannel(request), ...args) as Promise<RendererRequestMap[K]['result']>;

  const subscribe = (): Promise<UpdaterStatus> => {
    if (!subscribed) {
      subscribed = true;
      ipc.on(EVENT_CHANNEL, (_event, message) => {
        if (!isRendererEvent(message)) return;
        for (const listener of listeners.get(message.event) ?? []) listener(...message.args);
      });
    }
    return invoke('subscribe');
  };

  return {
    on(event, listener) {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      // The map holds listeners of every event; each is only ever called with its own event's arguments.
      const stored = listener as AnyListener;
      set.add(stored);
      void subscribe().catch(() => undefined);
      return () => {
        set.delete(stored);
      };
    },
    status: subscribe,
    check: () => invoke('check'),
    download: () => invoke('download'),
    install: (options) => invoke('install', ...(options === undefined ? [] : [{ relaunch: options.relaunch !== false }])),
  };
}
