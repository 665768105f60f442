/**
 * `@tufup/electron-client/core`: check, download, patch, verify and stage updates from a TUF repository.
 * Plain Node, no electron import; the Electron integration runs it inside a utility process.
 */
export { UpdateClient, type UpdateInfo, type DownloadOptions } from './client.js';
export { findStagedUpdate, type StagedUpdate, type FindStagedOptions } from './stage.js';
export { DEFAULTS, silentLogger, type CoreOptions, type Logger } from './config.js';
export { UpdateError, type UpdateErrorCode } from './error.js';
export type { DownloadPlan, PlanFile } from './catalog.js';
export { PHASE_WEIGHTS, type Progress, type PhaseProgress, type ProgressPhase } from './progress.js';
export type { Digest, TargetCustom, TufupCustom } from '@tufup/bundle';
export { netRequestFetch, type NetRequester, type NetClientRequest, type NetIncomingMessage } from './net-fetch.js';
export type { ReleaseDecision } from './decision.js';
export type { Yank } from '@tufup/bundle';
