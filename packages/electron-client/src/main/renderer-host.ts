import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { toErrorPayload, type ErrorPayload } from '../ipc/errors.js';
import { summaryOfInfo, summaryOfStaged } from './summary.js';

/**
 * Whether a `file:` URL names a file inside one of `folders`: a local file (a URL with a host is a network
 * share, `file://host/share/x.html`), below the folder once `..` is resolved. Case-insensitive where the
 * disk usually is (Windows, macOS), so a different spelling cannot pass for another folder either way.
 */
function fileInside(url: URL, folders: readonly string[]): boolean {
  if (url.protocol !== 'file:' || url.hostname !== '') return false;
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch {
    return false;
  }
  const fold = (p: string): string => (process.platform === 'win32' || process.platform === 'darwin' ? p.toLowerCase() : p);
  return folders.some((folder) => {
    const rel = relative(fold(resolve(folder)), fold(resolve(path)));
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  });
}

/**
 * True when `context` is the top frame of a window whose URL an entry of `allowedOrigins` admits:
 * - `file:`: the app's own pages, files inside `appFolders` (the app's folder or asar archive and its
 *   resources folder), never a file elsewhere on disk or on a network share;
 * - `file:///some/folder/`: files inside that folder;
 * - another scheme (`app:`): every URL of it (a custom protocol the app registered serves only its pages);
 * - an origin (`https://app.example`): that origin exactly.
 */
export function senderAllowed(context: InvokeContext, allowedOrigins: readonly string[], appFolders: readonly string[]): boolean {
  if (context.frameUrl === undefined || !context.topFrame) return false;
  let url: URL;
  try {
    url = new URL(context.frameUrl);
  } catch {
    return false;
  }
  return allowedOrigins.some((entry) => {
    if (entry === 'file:') return fileInside(url, appFolders);
    if (entry.startsWith('file:')) {
      const folder = new URL(entry);
      return folder.hostname === '' && fileInside(url, [fileURLToPath(folder)]);
    }
    // Custom schemes have the opaque origin "null", so those entries name a scheme.
    return entry.endsWith(':') ? url.protocol === entry : url.origin === entry;
  });
}

/**
 * Absolute paths in a message, as windows must not see them (they name the user and the folder layout;
 * the log keeps them): every folder part becomes `…`, the last name stays, so a message still says which
 * file. URLs are left alone.
 */
export function withoutPaths(message: string): string {
  return message
    .replace(/(?<![\w.~:/-])\/(?:[^/\n'"`]*\/)+/g, '…/')
    .replace(/(?<![\w])(?:[A-Za-z]:|\\\\[^\\\n]+)\\(?:[^\\\n'"`]*\\)+/g, '…\\');
}

/** An error as windows see it: code and message, without absolute paths. */
export function errorForRenderer(error: unknown): ErrorPayload {
  const payload = toErrorPayload(error, 'the updater');
  return { code: payload.code, message: withoutPaths(payload.message) };
}

function statusForRenderer(status: UpdaterStatus): UpdaterStatus {
  return status.error === undefined ? status : { ...status, error: { code: status.error.code, message: withoutPaths(status.error.message) } };
}

function eventForRenderer(event: RendererEvent): RendererEvent {
  if (event.event !== 'error') return event;
  const [payload] = event.args;
  return { event: 'error', args: [{ code: payload.code, message: withoutPaths(payload.message) }] };
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
  const appFolders = [adapter.appPath(), adapter.resourcesPath()];

  const broadcast = (event: RendererEvent): void => {
    for (const [id, target] of subscribers) {
      if (target.isDestroyed()) subscribers.delete(id);
      else target.send(EVENT_CHANNEL, eventForRenderer(event));
    }
  };
  const stopObserving = updater.observe(broadcast);

  const handlers: Handlers = {
    subscribe: (sender) => {
      if (!subscribers.has(sender.id)) {
        subscribers.set(sender.id, sender);
        sender.onDestroyed(() => subscribers.delete(sender.id));
      }
      return Promise.resolve(statusForRenderer(updater.getStatus()));
    },
    check: async () => {
      try {
        const info = await updater.checkForUpdates();
        return { ok: true, value: info === undefined ? null : summaryOfInfo(info) };
      } catch (error) {
        return { ok: false, error: errorForRenderer(error) };
      }
    },
    download: async () => {
      try {
        return { ok: true, value: summaryOfStaged(await updater.downloadUpdate()) };
      } catch (error) {
        return { ok: false, error: errorForRenderer(error) };
      }
    },
    install: (_sender, options?: InstallOptions) => {
      try {
        // Only the one flag crosses over: a renderer cannot choose what gets relaunched.
        updater.quitAndInstall({ relaunch: options?.relaunch !== false });
        return Promise.resolve({ ok: true, value: null });
      } catch (error) {
        return Promise.resolve({ ok: false, error: errorForRenderer(error) });
      }
    },
  };

  for (const request of RENDERER_REQUESTS) {
    adapter.handle(requestChannel(request), (context, ...args) => {
      if (!senderAllowed(context, allowedOrigins, appFolders)) {
        return Promise.reject(new Error(`tufup: refused ${request} from ${context.frameUrl === undefined ? 'a frame that is gone' : withoutPaths(context.frameUrl)}`));
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
