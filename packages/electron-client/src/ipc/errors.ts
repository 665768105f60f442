import { toUpdateError, UpdateError, type UpdateErrorCode } from '../core/error.js';

/** An error as it crosses a process boundary: class and cause do not survive structured clone. */
export interface ErrorPayload {
  code: UpdateErrorCode;
  message: string;
}

/**
 * Anything thrown, as plain data for IPC (worker -> main, main -> renderer). It goes through the core's
 * one mapping, so a file-system error keeps its meaning (a full or read-only disk is DISK) and only the
 * unrecognisable is INTERNAL; `what` names the operation in the message of an error that was not typed yet.
 */
export function toErrorPayload(error: unknown, what: string): ErrorPayload {
  const e = toUpdateError(error, what);
  return { code: e.code, message: e.message };
}

/** The UpdateError a payload stands for, on the side that receives it. */
export function fromErrorPayload(payload: ErrorPayload): UpdateError {
  return new UpdateError(payload.code, payload.message);
}
