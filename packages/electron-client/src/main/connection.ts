import { UpdateError } from '../core/error.js';
import type { Logger, Progress, StagedUpdate, UpdateInfo } from '../core/index.js';
import { fromErrorPayload } from '../ipc/errors.js';
import { isRefused, PROTOCOL_VERSION, readWorkerMessage, type MainMessage, type WorkerMessage, type WorkerOptions } from '../ipc/protocol.js';
import type { ElectronAdapter, WorkerProcess } from './adapter.js';

/** How long an idle worker is kept for a follow-up request (a download right after a check). */
export const WORKER_IDLE_MS = 2_000;

interface Pending {
  worker: WorkerProcess;
  settle: (message: WorkerMessage | UpdateError) => void;
  onProgress?: (progress: Progress) => void;
}

/** The two Electron calls the connection makes: it needs no more of the adapter. */
export type WorkerHost = Pick<ElectronAdapter, 'whenReady' | 'forkWorker'>;

type Request = MainMessage extends infer M ? (M extends { id: number } ? Omit<M, 'v' | 'id'> : never) : never;

/**
 * The main process's end of the worker protocol. Starts a worker when a request comes and none runs,
 * ends it when idle (a utility process never exits by itself), and turns the worker dying into an
 * error for every request it left unanswered, never a hang.
 */
export class WorkerConnection {
  private worker: WorkerProcess | undefined;
  private starting: Promise<WorkerProcess> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: WorkerHost,
    /** The worker entry to start; asked before every start (the embedded worker is checked then). */
    private readonly workerPath: () => Promise<string>,
    private readonly logger: Logger | undefined,
    private readonly idleMs: number = WORKER_IDLE_MS,
  ) {}

  /** Asks the worker for the newest update; undefined when up to date. */
  async check(options: WorkerOptions): Promise<UpdateInfo | undefined> {
    const answer = await this.request({ type: 'check', options });
    if (answer.type !== 'checked') throw unexpected(answer);
    return answer.info ?? undefined;
  }

  /** Has the worker download, verify and stage `info`. */
  async download(options: WorkerOptions, info: UpdateInfo, onProgress: (p: Progress) => void, signal?: AbortSignal): Promise<StagedUpdate> {
    const answer = await this.request({ type: 'download', options, info }, onProgress, signal);
    if (answer.type !== 'downloaded') throw unexpected(answer);
    return answer.staged;
  }

  /** Ends the worker now; unanswered requests fail. */
  close(): void {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    if (worker === undefined) return;
    this.workerGone(worker, 'the update worker was stopped');
    // kill() can fail on a worker that has not finished spawning; the exit message still ends it.
    worker.postMessage({ v: PROTOCOL_VERSION, type: 'exit' } satisfies MainMessage);
    worker.kill();
  }

  private async request(request: Request, onProgress?: (p: Progress) => void, signal?: AbortSignal): Promise<WorkerMessage> {
    if (signal?.aborted === true) throw new UpdateError('CANCELLED', 'cancelled before it started');
    clearTimeout(this.idleTimer);
    const worker = await this.ensureWorker();
    const id = this.nextId++;
    const message = { v: PROTOCOL_VERSION, id, ...request } as MainMessage;
    const onAbort = (): void => worker.postMessage({ v: PROTOCOL_VERSION, type: 'cancel', id } satisfies MainMessage);
    try {
      return await new Promise<WorkerMessage>((resolve, reject) => {
        const entry: Pending = { worker, settle: (answer) => (answer instanceof UpdateError ? reject(answer) : resolve(answer)) };
        if (onProgress !== undefined) entry.onProgress = onProgress;
        this.pending.set(id, entry);
        // The signal may have fired while the app was getting ready, and an aborted signal never calls
        // a listener added later: the request would run to its end.
        if (signal?.aborted === true) {
          entry.settle(new UpdateError('CANCELLED', 'cancelled before it started'));
          return;
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        worker.postMessage(message);
      });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.pending.delete(id);
      if (this.pending.size === 0) this.scheduleIdleExit();
    }
  }

  private async ensureWorker(): Promise<WorkerProcess> {
    // utilityProcess.fork throws before the app is ready.
    await this.host.whenReady();
    if (this.worker !== undefined) return this.worker;
    // Two requests at once start one worker: the file check before the start takes a moment.
    this.starting ??= this.startWorker().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async startWorker(): Promise<WorkerProcess> {
    const worker = this.host.forkWorker(await this.workerPath());
    this.worker = worker;
    worker.on('message', (data) => this.receive(worker, data));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.workerGone(worker, `the update worker exited with code ${code} before answering`);
    });
    return worker;
  }

  private workerGone(worker: WorkerProcess, reason: string): void {
    for (const entry of this.pending.values()) {
      if (entry.worker === worker) entry.settle(new UpdateError('INTERNAL', reason));
    }
  }

  private receive(worker: WorkerProcess, data: unknown): void {
    const message = readWorkerMessage(data);
    if (isRefused(message)) {
      this.logger?.warn(`tufup: refused a message from the update worker: ${message.refused}`);
      const entry = message.id === undefined ? undefined : this.pending.get(message.id);
      entry?.settle(new UpdateError('INTERNAL', `the update worker sent a message this version cannot read: ${message.refused}`));
      return;
    }
    if (message.type === 'log') {
      this.logger?.[message.level](message.message);
      return;
    }
    const entry = this.pending.get(message.id);
    if (entry?.worker !== worker) return;
    switch (message.type) {
      case 'progress':
        entry.onProgress?.(message.progress);
        return;
      case 'failed':
        entry.settle(fromErrorPayload(message.error));
        return;
      default:
        entry.settle(message);
    }
  }

  private scheduleIdleExit(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      const worker = this.worker;
      if (worker === undefined || this.pending.size > 0) return;
      this.worker = undefined;
      worker.postMessage({ v: PROTOCOL_VERSION, type: 'exit' } satisfies MainMessage);
    }, this.idleMs);
    this.idleTimer.unref();
  }
}

function unexpected(message: WorkerMessage): UpdateError {
  return new UpdateError('INTERNAL', `the update worker answered with an unexpected ${message.type} message`);
}
