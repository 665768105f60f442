import type { Progress, ReleaseDecision, UpdateError } from '../core/index.js';
import type { ErrorPayload } from './errors.js';

/**
 * The one map of the updater's events: what `updater.on(...)` receives in the main process and, with
 * errors flattened to {@link ErrorPayload}, what renderers receive through the preload bridge.
 */
export interface UpdaterEventMap {
  'checking-for-update': [];
  'update-available': [info: UpdateSummary];
  'update-not-available': [info: { version: string }];
  'download-progress': [progress: Progress];
  'update-downloaded': [info: UpdateSummary];
  error: [error: UpdateError];
}

/** The events as renderers receive them: plain data only, since IPC copies values by structured clone. */
export type RendererEventMap = { [K in keyof UpdaterEventMap]: K extends 'error' ? [error: ErrorPayload] : UpdaterEventMap[K] };

/** The name of one updater event. */
export type UpdaterEventName = keyof UpdaterEventMap;

/** One event as sent to renderers on {@link EVENT_CHANNEL}. */
export type RendererEvent = { [K in UpdaterEventName]: { event: K; args: RendererEventMap[K] } }[UpdaterEventName];

/** What a user needs to know about an update, safe to show in a window. */
export interface UpdateSummary {
  version: string;
  /** The publisher marked this update (or one it skips over) as required. */
  required: boolean;
  releaseNotes?: string;
  /** Bytes to download: a patch chain when one applies, else the full archive. */
  downloadSize: number;
  strategy: 'patch' | 'full';
  /**
   * Why this install takes it (found by a check; absent for an update staged in an earlier run): the
   * signed rollout percentage, `required`, a copy kept, or the running version yanked (`yankedCurrent`
   * holds the publisher's reason, `downgrade` whether this version is lower).
   */
  decision?: ReleaseDecision;
}

/**
 * Why this install cannot update itself (state `unsupported`), found before any download. `reason` is
 * one of `UnsupportedReason` (main/install-support.ts): `unpackaged`, `squirrel-windows`,
 * `app-translocation`, `read-only-volume`, `system-package`, `program-files`, `not-writable`.
 */
export interface UnsupportedInstall {
  code: 'UNSUPPORTED_INSTALL';
  reason: string;
  message: string;
}

/** Where the updater is, for a window that opens after the events it missed. */
export interface UpdaterStatus {
  state: 'idle' | 'unsupported' | 'checking' | 'available' | 'not-available' | 'downloading' | 'downloaded' | 'error';
  currentVersion: string;
  update?: UpdateSummary;
  progress?: Progress;
  error?: ErrorPayload;
  /** Set with state `unsupported`: why this install never checks or downloads. */
  unsupported?: UnsupportedInstall;
}

/** The answer to a renderer's request: update failures are values, because IPC keeps only an error's message. */
export type RequestResult<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

/** Options of `quitAndInstall`. */
export interface InstallOptions {
  /** Start the new version once installed (and health-check it). @default true */
  relaunch?: boolean;
}

/** Requests a renderer can make: arguments and result of each. */
export interface RendererRequestMap {
  /** Starts forwarding events to the calling window; returns the status so far. */
  subscribe: { args: []; result: UpdaterStatus };
  check: { args: []; result: RequestResult<UpdateSummary | null> };
  download: { args: []; result: RequestResult<UpdateSummary> };
  install: { args: [options?: InstallOptions]; result: RequestResult<null> };
}

/** The name of one renderer request. */
export type RendererRequest = keyof RendererRequestMap;

/** All channel names start with this, so they cannot clash with the app's own. */
export const CHANNEL_NAMESPACE = 'tufup';

/** The channel main sends {@link RendererEvent}s on. */
export const EVENT_CHANNEL = `${CHANNEL_NAMESPACE}:event`;

const REQUESTS: Record<RendererRequest, true> = { subscribe: true, check: true, download: true, install: true };

/** Every request name, for registering handlers. */
export const RENDERER_REQUESTS = Object.keys(REQUESTS) as RendererRequest[];

/** The invoke channel of a request. */
export function requestChannel(request: RendererRequest): string {
  return `${CHANNEL_NAMESPACE}:${request}`;
}
