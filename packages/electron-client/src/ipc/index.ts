export {
  PROTOCOL_VERSION,
  readMainMessage,
  readWorkerMessage,
  isRefused,
  type WorkerOptions,
  type LogLevel,
  type MainMessage,
  type WorkerMessage,
  type RefusedMessage,
} from './protocol.js';
export {
  CHANNEL_NAMESPACE,
  EVENT_CHANNEL,
  RENDERER_REQUESTS,
  requestChannel,
  type UpdaterEventMap,
  type RendererEventMap,
  type UpdaterEventName,
  type RendererEvent,
  type UpdateSummary,
  type UpdaterStatus,
  type UnsupportedInstall,
  type RequestResult,
  type InstallOptions,
  type RendererRequestMap,
  type RendererRequest,
} from './channels.js';
export { toErrorPayload, fromErrorPayload, type ErrorPayload } from './errors.js';
