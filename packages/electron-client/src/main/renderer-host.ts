import type { StagedUpdate, UpdateInfo } from '../core/index.js';
import {
  EVENT_CHANNEL,
  RENDERER_REQUESTS,
  requestChannel,
  type InstallOptions,
  type RendererEvent,
  type RendererRequest,
  type RendererRequestMap,
  type UpdaterStatus,
} from '../ipc/channels.js';
import type { ElectronAdapter, InvokeContext, RendererTarget } from './adapter.js';
import { toErrorPayload } from '../ipc/errors.js';
import { summaryOfInfo, summaryOfStaged } from './summary.js';

/** True when `context` is the top frame of a window whose URL matches an allowed origin or scheme. */
export function senderAllowed(context: InvokeContext, allowedOrigins: readonly string[]): boolean {
  if (context.frameUrl === undefined || !context.topFrame) return false;
  let url: URL;
  try {
    url = new URL(context.frameUrl);
  } catch {
    return false;
  }
  // `file:` and custom schemes have the opaque origin "null", so those entries name a scheme.
  return allowedOrigins.some((entry) => (entry.endsWith(':') ? url.protocol === entry : url.origin === entry));
}

/**
 * The five updater methods the renderer host uses (TufupUpdater has them): the host needs no more of the
 * updater, and is tested with a stand-in for it (electron-updater's AppAdapter, sigstore's Signer).
 */
export interface HostedUpdater {
  getStatus(): UpdaterStatus;
  checkForUpdates(): Promise<UpdateInfo | undefined>;
  downloadUpdate(): Promise<StagedUpdate>;
  quitAndInstall(options: InstallOptions): void;
  /** Receives every updater event in its renderer form; returns the unsubscribe function. */
  observe(observer: (event: RendererEvent) => void): () => void;
}

type Handlers = { [K in RendererRequest]: (sender: RendererTarget, ...args: RendererRequestMap[K]['args']) => Promise<RendererRequestMap[K]['result']> };

/**
 * The main-process end of the renderer bridge (`preload/renderer-bridge.ts` is the other end). Serves it: handles the renderer requests and forwards the updater's events to the
 * windows that subscribed. Requests from frames outside `allowedOrigins` are refused. Returns a function
 * that removes the handlers.
 */
export function serveRenderers(updater: HostedUpdater, adapter: ElectronAdapter, allowedOrigins: readonly string[]): () => void {
  const subscribers = new Map<number, RendererTarget>();

  const broadcast = (event: RendererEvent): void => {
    for (const [id, target] of subscribers) {
      if (target.isDestroyed()) subscribers.delete(id);
      else target.send(EVENT_CHANNEL, event);
    }
  };
  const stopObserving = updater.observe(broadcast);

  const handlers: Handlers = {
    subscribe: (sender) => {
      if (!subscribers.has(sender.id)) {
        subscribers.set(sender.id, sender);
        sender.onDestroyed(() => subscribers.delete(sender.id));
      }
      return Promise.resolve(updater.getStatus());
    },
    check: async () => {
      try {
        const info = await updater.checkForUpdates();
        return { ok: true, value: info === undefined ? null : summaryOfInfo(info) };
      } catch (error) {
        return { ok: false, error: toErrorPayload(error, 'the updater') };
      }
    },
    download: async () => {
      try {
        return { ok: true, value: summaryOfStaged(await updater.downloadUpdate()) };
      } catch (error) {
        return { ok: false, error: toErrorPayload(error, 'the updater') };
      }
    },
    install: (_sender, options?: InstallOptions) => {
      try {
        // Only the one flag crosses over: a renderer cannot choose what gets relaunched.
        updater.quitAndInstall({ relaunch: options?.relaunch !== false });
        return Promise.resolve({ ok: true, value: null });
      } catch (error) {
        return Promise.resolve({ ok: false, error: toErrorPayload(error, 'the updater') });
      }
    },
  };

  for (const request of RENDERER_REQUESTS) {
    adapter.handle(requestChannel(request), (context, ...args) => {
      if (!senderAllowed(context, allowedOrigins)) {
        return Promise.reject(new Error(`tufup: refused ${request} from ${context.frameUrl ?? 'a frame that is gone'}`));
      }
      const handler = handlers[request] as (sender: RendererTarget, ...args: unknown[]) => Promise<unknown>;
      return handler(context.sender, ...args);
    });
  }
  return () => {
    stopObserving();
    subscribers.clear();
    for (const request of RENDERER_REQUESTS) adapter.removeHandler(requestChannel(request));
  };
}
