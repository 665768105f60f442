import type { CoreOptions, Progress, StagedUpdate, UpdateInfo } from '../core/index.js';
import type { ErrorPayload } from './errors.js';

/**
 * Messages between the main process and the update worker. Every message carries the protocol version
 * `v`; a side that receives another version refuses the message instead of guessing, because the worker
 * file and the main bundle can come from different builds while an update is half applied.
 */
export const PROTOCOL_VERSION = 1;

/** {@link CoreOptions} that can cross a process boundary: functions stay behind. */
export type WorkerOptions = Omit<CoreOptions, 'fetch' | 'logger'> & {
  /** Forward the core's diagnostics to the main process as `log` messages. @default false */
  log?: boolean;
};

/** The level of a diagnostic the worker forwards. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Main process to worker. */
export type MainMessage =
  | { v: typeof PROTOCOL_VERSION; type: 'check'; id: number; options: WorkerOptions }
  | { v: typeof PROTOCOL_VERSION; type: 'download'; id: number; options: WorkerOptions; info: UpdateInfo }
  | { v: typeof PROTOCOL_VERSION; type: 'cancel'; id: number }
  | { v: typeof PROTOCOL_VERSION; type: 'exit' };

/** Worker to main process. `id` answers the request of that id. */
export type WorkerMessage =
  | { v: typeof PROTOCOL_VERSION; type: 'checked'; id: number; info: UpdateInfo | null }
  | { v: typeof PROTOCOL_VERSION; type: 'progress'; id: number; progress: Progress }
  | { v: typeof PROTOCOL_VERSION; type: 'downloaded'; id: number; staged: StagedUpdate }
  | { v: typeof PROTOCOL_VERSION; type: 'failed'; id: number; error: ErrorPayload }
  | { v: typeof PROTOCOL_VERSION; type: 'log'; level: LogLevel; message: string };

type Fields<M extends { type: string }> = { [T in M['type']]: readonly Exclude<keyof Extract<M, { type: T }>, 'v' | 'type'>[] };

// The fields each message type must carry; a message missing one is refused, not half-handled.
const MAIN_FIELDS: Fields<MainMessage> = {
  check: ['id', 'options'],
  download: ['id', 'options', 'info'],
  cancel: ['id'],
  exit: [],
};

const WORKER_FIELDS: Fields<WorkerMessage> = {
  checked: ['id', 'info'],
  progress: ['id', 'progress'],
  downloaded: ['id', 'staged'],
  failed: ['id', 'error'],
  log: ['level', 'message'],
};

/** Why a message was refused. */
export interface RefusedMessage {
  refused: string;
  /** The request id, when the message had one, so the refusal can answer it. */
  id?: number;
}

function read(data: unknown, fields: Record<string, readonly string[]>): Record<string, unknown> | RefusedMessage {
  if (typeof data !== 'object' || data === null) return { refused: 'not an object' };
  const message = data as Record<string, unknown>;
  const id = typeof message.id === 'number' ? message.id : undefined;
  const refuse = (refused: string): RefusedMessage => (id === undefined ? { refused } : { refused, id });
  if (message.v !== PROTOCOL_VERSION) return refuse(`protocol version ${String(message.v)}, expected ${PROTOCOL_VERSION}`);
  const type = message.type;
  if (typeof type !== 'string' || !Object.hasOwn(fields, type)) return refuse(`unknown message type ${String(type)}`);
  for (const field of fields[type] ?? []) {
    if (!(field in message)) return refuse(`${type} message without ${field}`);
  }
  return message;
}

/** Checks a message arriving in the worker. */
export function readMainMessage(data: unknown): MainMessage | RefusedMessage {
  // The fields were checked above against the type's own list.
  return read(data, MAIN_FIELDS) as MainMessage | RefusedMessage;
}

/** Checks a message arriving in the main process. */
export function readWorkerMessage(data: unknown): WorkerMessage | RefusedMessage {
  return read(data, WORKER_FIELDS) as WorkerMessage | RefusedMessage;
}

/** True when {@link readMainMessage} or {@link readWorkerMessage} refused the message. */
export function isRefused(message: object): message is RefusedMessage {
  return 'refused' in message;
}
