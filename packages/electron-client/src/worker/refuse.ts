import type { ErrorPayload } from '../ipc/errors.js';
import { isRefused, PROTOCOL_VERSION, readMainMessage } from '../ipc/protocol.js';
import type { Transport } from './transport.js';

/**
 * The message loop of a worker that cannot work (its runtime is too old): every request fails with
 * `error`, and `exit` or the main process going away ends it. Needs nothing but the protocol, so it runs
 * where the client itself would not load.
 */
export function refuseAll(transport: Transport, error: ErrorPayload, exit: () => void = () => process.exit(0)): void {
  transport.onMessage((data) => {
    const message = readMainMessage(data);
    if (!isRefused(message) && message.type === 'exit') {
      exit();
      return;
    }
    const id = isRefused(message) || message.type === 'cancel' ? undefined : message.id;
    if (id !== undefined) transport.send({ v: PROTOCOL_VERSION, type: 'failed', id, error });
  });
  transport.onClose(exit);
}
