import type { WorkerMessage } from '../ipc/protocol.js';

/** How the worker talks to the main process; the only part that differs between Electron and plain Node. */
export interface Transport {
  send(message: WorkerMessage): void;
  onMessage(listener: (data: unknown) => void): void;
  /** Called when the main process goes away (plain Node only; Electron ends a utility process itself). */
  onClose(listener: () => void): void;
}

interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

/**
 * The transport of the running process: Electron's `process.parentPort` in a utility process, or the
 * IPC channel of `child_process.fork` (tests, or an app that runs the worker under plain Node).
 */
export function parentTransport(): Transport {
  const port = (process as { parentPort?: ParentPortLike }).parentPort;
  if (port !== undefined) {
    return {
      send: (message) => port.postMessage(message),
      onMessage: (listener) => port.on('message', (event) => listener(event.data)),
      onClose: () => undefined,
    };
  }
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('the tufup worker must be started with utilityProcess.fork or child_process.fork');
  return {
    send: (message) => send(message),
    onMessage: (listener) => process.on('message', listener),
    onClose: (listener) => process.on('disconnect', listener),
  };
}

/** True inside an Electron utility process. */
export function inUtilityProcess(): boolean {
  return (process as { parentPort?: ParentPortLike }).parentPort !== undefined;
}
