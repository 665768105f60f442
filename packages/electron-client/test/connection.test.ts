import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectionOf, waitFor } from '@tufup/testkit';
import { UpdateError, type UpdateInfo } from '../src/core/index.js';
import { PROTOCOL_VERSION, type MainMessage } from '../src/ipc/protocol.js';
import type { WorkerProcess } from '../src/main/adapter.js';
import { WorkerConnection, type WorkerHost } from '../src/main/connection.js';

// The main process's end of the worker protocol, against a scripted worker: a thin stand-in for
// `utilityProcess` (the Electron boundary) whose answers each test writes. The real worker behind a real
// fork is in main.slow.test.ts; here, each answer the worker can give and what the app gets for it.

/** A worker that records what main posts and answers when told. */
class ScriptedWorker extends EventEmitter implements WorkerProcess {
  readonly posted: MainMessage[] = [];
  killed = false;

  postMessage(message: unknown): void {
    this.posted.push(structuredClone(message) as MainMessage);
  }
  kill(): boolean {
    this.killed = true;
    return true;
  }
  /** The request main sent last (its id is what an answer must carry). */
  lastRequest(): Extract<MainMessage, { id: number }> {
    const request = this.posted.findLast((m): m is Extract<MainMessage, { id: number }> => 'id' in m);
    if (request === undefined) throw new Error('no request posted');
    return request;
  }
  answer(message: Record<string, unknown>): void {
    this.emit('message', structuredClone({ v: PROTOCOL_VERSION, id: this.lastRequest().id, ...message }));
  }
}

const OPTIONS = { appName: 'tufapp', currentVersion: '1.0.0', installDir: '/i', metadataUrl: 'http://127.0.0.1/m/', targetsUrl: 'http://127.0.0.1/t/', cacheDir: '/c', trustedRoot: '/r' };
const INFO = { version: '1.1.0' } as unknown as UpdateInfo;

const connections: WorkerConnection[] = [];
afterEach(() => {
  for (const connection of connections.splice(0)) connection.close();
});

function connect(idleMs = 60_000): { connection: WorkerConnection; workers: ScriptedWorker[]; warnings: string[] } {
  const workers: ScriptedWorker[] = [];
  const warnings: string[] = [];
  const host: WorkerHost = {
    whenReady: () => Promise.resolve(),
    forkWorker: () => {
      const worker = new ScriptedWorker();
      workers.push(worker);
      return worker;
    },
  };
  const logger = { debug: () => undefined, info: () => undefined, warn: (...a: unknown[]) => warnings.push(a.join(' ')), error: () => undefined };
  const connection = new WorkerConnection(host, () => Promise.resolve('/worker.js'), logger, idleMs);
  connections.push(connection);
  return { connection, workers, warnings };
}

/** The worker once the connection has forked it and posted its request. */
async function requested(workers: ScriptedWorker[], count = 1): Promise<ScriptedWorker> {
  return waitFor(() => Promise.resolve(workers.at(-1)?.posted.length === count ? workers.at(-1) : undefined), 'the request to reach the worker', 5_000, 5);
}

describe('what a check resolves or rejects with, for each answer of the worker', () => {
  it.each<[string, (worker: ScriptedWorker) => void, string]>([
    ['checked with an update', (w) => w.answer({ type: 'checked', info: INFO }), 'resolves 1.1.0'],
    ['checked with nothing', (w) => w.answer({ type: 'checked', info: null }), 'resolves nothing'],
    ['failed, with its code', (w) => w.answer({ type: 'failed', error: { code: 'VERIFICATION', message: 'expired' } }), 'rejects VERIFICATION: expired'],
    ['an answer of another type', (w) => w.answer({ type: 'downloaded', staged: {} }), 'rejects INTERNAL: the update worker answered with an unexpected downloaded message'],
    ['an answer of another protocol version', (w) => w.emit('message', { v: PROTOCOL_VERSION + 1, id: w.lastRequest().id, type: 'checked', info: null }), 'rejects INTERNAL: the update worker sent a message this version cannot read: protocol version 2, expected 1'],
    ['an exit before answering', (w) => w.emit('exit', 9), 'rejects INTERNAL: the update worker exited with code 9 before answering'],
  ])('%s', async (_what, answer, result) => {
    const { connection, workers } = connect();
    const check = connection.check(OPTIONS);
    answer(await requested(workers));
    const got = await check.then(
      (info) => `resolves ${info?.version ?? 'nothing'}`,
      (error: unknown) => (error instanceof UpdateError ? `rejects ${error.code}: ${error.message}` : `rejects ${String(error)}`),
    );
    expect(got).toBe(result);
  });

  it('ignores answers to requests it is not waiting for, and one worker answering for another', async () => {
    const { connection, workers } = connect();
    const check = connection.check(OPTIONS);
    const worker = await requested(workers);
    worker.emit('message', { v: PROTOCOL_VERSION, id: 999, type: 'checked', info: INFO });
    worker.answer({ type: 'checked', info: null });
    expect(await check).toBeUndefined();
  });

  it('passes the log lines of the worker to the logger, and warns about messages it refuses', async () => {
    const { connection, workers, warnings } = connect();
    const check = connection.check(OPTIONS);
    const worker = await requested(workers);
    worker.emit('message', { v: PROTOCOL_VERSION, type: 'log', level: 'warn', message: 'tufup: retrying' });
    worker.emit('message', { v: PROTOCOL_VERSION, type: 'teleport' });
    worker.answer({ type: 'checked', info: null });
    await check;
    expect(warnings).toEqual(['tufup: retrying', 'tufup: refused a message from the update worker: unknown message type teleport']);
  });
});

describe('downloads, cancels and the life of the worker', () => {
  it('hands progress to the caller until the download is answered', async () => {
    const { connection, workers } = connect();
    const seen: number[] = [];
    const download = connection.download(OPTIONS, INFO, (p) => seen.push(p.transferred));
    const worker = await requested(workers);
    for (const transferred of [10, 20]) worker.answer({ type: 'progress', progress: { phase: 'download', transferred, total: 20, percent: 0, bytesPerSecond: 0 } });
    worker.answer({ type: 'downloaded', staged: { version: '1.1.0' } });
    expect((await download).version).toBe('1.1.0');
    expect(seen).toEqual([10, 20]);
  });

  it('asks the worker to cancel when the signal fires, and rejects with what the worker says', async () => {
    const { connection, workers } = connect();
    const controller = new AbortController();
    const download = connection.download(OPTIONS, INFO, () => undefined, controller.signal);
    const worker = await requested(workers);
    controller.abort();
    expect(worker.posted.at(-1)).toEqual({ v: PROTOCOL_VERSION, type: 'cancel', id: worker.lastRequest().id });
    worker.answer({ type: 'failed', error: { code: 'CANCELLED', message: 'cancelled' } });
    expect((await rejectionOf(download, UpdateError)).code).toBe('CANCELLED');
  });

  it('rejects a request whose signal already fired without starting a worker', async () => {
    const { connection, workers } = connect();
    expect((await rejectionOf(connection.download(OPTIONS, INFO, () => undefined, AbortSignal.abort()), UpdateError)).code).toBe('CANCELLED');
    expect(workers).toEqual([]);
  });

  it('tells an idle worker to exit, and starts a new one for the next request', async () => {
    const { connection, workers } = connect(20);
    const first = connection.check(OPTIONS);
    (await requested(workers)).answer({ type: 'checked', info: null });
    await first;
    await waitFor(() => Promise.resolve(workers[0]?.posted.at(-1)?.type === 'exit' ? true : undefined), 'the idle worker to be told to exit', 5_000, 5);
    const second = connection.check(OPTIONS);
    const next = await waitFor(() => Promise.resolve(workers[1]?.posted.length === 1 ? workers[1] : undefined), 'a second worker', 5_000, 5);
    next.answer({ type: 'checked', info: null });
    expect(await second).toBeUndefined();
    expect(workers).toHaveLength(2);
  });

  it('rejects what is pending when closed, and ends the worker', async () => {
    const { connection, workers } = connect();
    const check = connection.check(OPTIONS);
    const worker = await requested(workers);
    connection.close();
    expect(await rejectionOf(check, UpdateError)).toMatchObject({ code: 'INTERNAL', message: 'the update worker was stopped' });
    expect(worker.posted.at(-1)).toEqual({ v: PROTOCOL_VERSION, type: 'exit' });
    expect(worker.killed).toBe(true);
  });
});
