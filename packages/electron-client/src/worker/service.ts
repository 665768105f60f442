import { messageOf } from '@tufup/bundle';
import { UpdateClient, type CoreOptions, type Logger, type Progress } from '../core/index.js';
import { toErrorPayload } from '../ipc/errors.js';
import { isRefused, PROTOCOL_VERSION, readMainMessage, type LogLevel, type MainMessage, type WorkerOptions } from '../ipc/protocol.js';
import type { Transport } from './transport.js';

/** What the worker adds to the options main sends: the parts that cannot cross a process boundary. */
export interface ServiceOptions {
  /** The fetch handed to the core (`netRequestFetch(net)` over Electron's `net` in a utility process). @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Ends the process; called on `exit` and when the main process goes away. @default process.exit */
  exit?: () => void;
}

/**
 * The worker's message loop: runs the client core for the main process, one request per message, and
 * answers each with exactly one `checked`, `downloaded` or `failed`.
 */
export function serve(transport: Transport, options: ServiceOptions = {}): void {
  const exit = options.exit ?? (() => process.exit(0));
  const running = new Map<number, AbortController>();
  let client: { key: string; client: UpdateClient } | undefined;

  const log = (level: LogLevel, args: unknown[]): void => {
    transport.send({ v: PROTOCOL_VERSION, type: 'log', level, message: args.map(messageOf).join(' ') });
  };
  const forwardingLogger: Logger = {
    debug: (...args) => log('debug', args),
    info: (...args) => log('info', args),
    warn: (...args) => log('warn', args),
    error: (...args) => log('error', args),
  };

  // One client for as long as the options stay the same.
  const clientFor = (workerOptions: WorkerOptions): UpdateClient => {
    const key = JSON.stringify(workerOptions, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
    if (client?.key !== key) {
      const { log: forward, ...core } = workerOptions;
      const coreOptions: CoreOptions = { ...core };
      if (options.fetch !== undefined) coreOptions.fetch = options.fetch;
      if (forward === true) coreOptions.logger = forwardingLogger;
      client = { key, client: new UpdateClient(coreOptions) };
    }
    return client.client;
  };

  // Requests run one at a time, in order. The core orders the operations of one client, but changed
  // options (the app switching channel mid-download) make a new client, which must not write the same
  // cache while the old one still does. A queued request can be cancelled before it starts.
  let queue: Promise<void> = Promise.resolve();
  const run = (id: number, work: (signal: AbortSignal) => Promise<void>): void => {
    const controller = new AbortController();
    running.set(id, controller);
    const done = queue
      .then(() => work(controller.signal))
      .catch((error: unknown) => transport.send({ v: PROTOCOL_VERSION, type: 'failed', id, error: toErrorPayload(error, 'the update worker') }))
      .finally(() => running.delete(id));
    // A send that throws still surfaces through `done`; the next request runs either way.
    queue = done.catch(() => undefined);
  };

  const handle = (message: MainMessage): void => {
    switch (message.type) {
      case 'check':
        run(message.id, async (signal) => {
          const info = await clientFor(message.options).checkForUpdates({ signal });
          transport.send({ v: PROTOCOL_VERSION, type: 'checked', id: message.id, info: info ?? null });
        });
        return;
      case 'download':
        run(message.id, async (signal) => {
          const onProgress = (progress: Progress): void =>
            transport.send({ v: PROTOCOL_VERSION, type: 'progress', id: message.id, progress });
          const staged = await clientFor(message.options).downloadUpdate(message.info, { signal, onProgress });
          transport.send({ v: PROTOCOL_VERSION, type: 'downloaded', id: message.id, staged });
        });
        return;
      case 'cancel':
        running.get(message.id)?.abort();
        return;
      case 'exit':
        for (const controller of running.values()) controller.abort();
        exit();
        return;
    }
  };

  transport.onMessage((data) => {
    const message = readMainMessage(data);
    if (!isRefused(message)) {
      handle(message);
      return;
    }
    if (message.id !== undefined) {
      transport.send({ v: PROTOCOL_VERSION, type: 'failed', id: message.id, error: { code: 'INTERNAL', message: `the worker refused a message: ${message.refused}` } });
    } else {
      log('warn', [`tufup worker: ignored a message: ${message.refused}`]);
    }
  });
  transport.onClose(() => {
    for (const controller of running.values()) controller.abort();
    exit();
  });
}
