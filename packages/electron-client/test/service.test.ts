import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@tufup/testkit';
import { TestRepo } from '@tufup/testkit/repo';
import { PROTOCOL_VERSION, type WorkerMessage, type WorkerOptions } from '../src/ipc/protocol.js';
import { serve } from '../src/worker/service.js';
import type { Transport } from '../src/worker/transport.js';

// The worker's message loop in this process, over an in-memory transport that structured-clones each
// message as the process boundary does; the client core under it is real, against a real repository.

let repo: TestRepo;
let installDir: string;

beforeAll(async () => {
  repo = await TestRepo.create();
  await repo.publish('1.0.0');
  await repo.publish('1.1.0');
  installDir = await repo.install('1.0.0');
});
afterAll(() => repo.cleanup());

/** One worker: what it sent, a way to post to it, and how often it asked to exit. */
function worker(): { sent: WorkerMessage[]; post: (message: unknown) => void; closeParent: () => void; exits: () => number } {
  const sent: WorkerMessage[] = [];
  let deliver: (data: unknown) => void = () => undefined;
  let closed: () => void = () => undefined;
  let exits = 0;
  const transport: Transport = {
    send: (message) => sent.push(structuredClone(message)),
    onMessage: (listener) => (deliver = listener),
    onClose: (listener) => (closed = listener),
  };
  serve(transport, { exit: () => exits++ });
  return { sent, post: (message) => deliver(structuredClone(message)), closeParent: () => closed(), exits: () => exits };
}

function options(version: string, extra: Partial<WorkerOptions> = {}): WorkerOptions {
  return repo.clientOptions(version, installDir, extra);
}

/** The one answer (`checked`, `downloaded` or `failed`) to request `id`. */
function answerTo(sent: WorkerMessage[], id: number): Promise<WorkerMessage> {
  return waitFor(() => Promise.resolve(sent.find((m) => 'id' in m && m.id === id && m.type !== 'progress')), `the answer to request ${id}`, 15_000);
}

/** An answer as one line: its type and what decides it. */
function summary(message: WorkerMessage): string {
  switch (message.type) {
    case 'checked':
      return `checked ${message.info?.version ?? 'nothing'}`;
    case 'downloaded':
      return `downloaded ${message.staged.version}`;
    case 'failed':
      return `failed ${message.error.code}`;
    default:
      return message.type;
  }
}

describe('the worker answers each request exactly once', () => {
  it.each<[string, () => unknown, string]>([
    ['a check of an install that is up to date', () => ({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.1.0') }), 'checked nothing'],
    ['a check of an older install', () => ({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.0.0') }), 'checked 1.1.0'],
    ['a check with options the core refuses', () => ({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.0.0', { appName: 'no spaces allowed' }) }), 'failed CONFIG'],
    ['a check of a repository that cannot be reached', () => ({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.0.0', { metadataUrl: 'http://127.0.0.1:9/metadata/', retries: 0 }) }), 'failed NETWORK'],
    ['a request of another protocol version', () => ({ v: PROTOCOL_VERSION + 1, type: 'check', id: 1, options: options('1.0.0') }), 'failed INTERNAL'],
    ['a request of an unknown type', () => ({ v: PROTOCOL_VERSION, type: 'install', id: 1 }), 'failed INTERNAL'],
    ['a check without options', () => ({ v: PROTOCOL_VERSION, type: 'check', id: 1 }), 'failed INTERNAL'],
  ])('%s', async (_what, message, answer) => {
    const { sent, post } = worker();
    post(message());
    expect(summary(await answerTo(sent, 1))).toBe(answer);
    // Exactly one answer, even once the work is surely over.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sent.filter((m) => 'id' in m && m.id === 1 && m.type !== 'progress')).toHaveLength(1);
  });

  it('logs, and does not answer, a message it cannot tie to a request', () => {
    const { sent, post } = worker();
    post({ v: PROTOCOL_VERSION, type: 'nonsense' });
    post('not even an object');
    expect(sent.map((m) => (m.type === 'log' ? `${m.level}: ${m.message}` : m.type))).toEqual([
      'warn: tufup worker: ignored a message: unknown message type nonsense',
      'warn: tufup worker: ignored a message: not an object',
    ]);
  });

  it('downloads with progress, then answers downloaded', async () => {
    const { sent, post } = worker();
    const check = options('1.0.0');
    post({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: check });
    const checked = await answerTo(sent, 1);
    if (checked.type !== 'checked' || checked.info === null) throw new Error(`no update found: ${summary(checked)}`);
    post({ v: PROTOCOL_VERSION, type: 'download', id: 2, options: check, info: checked.info });
    expect(summary(await answerTo(sent, 2))).toBe('downloaded 1.1.0');
    const phases = sent.flatMap((m) => (m.type === 'progress' && m.id === 2 ? [m.progress.phase] : []));
    expect(new Set(phases)).toEqual(new Set(['download', 'patch', 'extract']));
  });

  it('runs requests one at a time, so a queued one can be cancelled before it starts', async () => {
    const { sent, post } = worker();
    post({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.0.0') });
    post({ v: PROTOCOL_VERSION, type: 'check', id: 2, options: options('1.0.0') });
    post({ v: PROTOCOL_VERSION, type: 'cancel', id: 2 });
    expect(summary(await answerTo(sent, 1))).toBe('checked 1.1.0');
    expect(summary(await answerTo(sent, 2))).toBe('failed CANCELLED');
  });

  it('forwards the core diagnostics as log messages only when asked to', async () => {
    const quiet = worker();
    quiet.post({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.1.0') });
    await answerTo(quiet.sent, 1);
    expect(quiet.sent.filter((m) => m.type === 'log')).toEqual([]);
    const chatty = worker();
    chatty.post({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.1.0', { log: true }) });
    await answerTo(chatty.sent, 1);
    expect(chatty.sent).toContainEqual({ v: PROTOCOL_VERSION, type: 'log', level: 'info', message: 'tufup: tufapp 1.1.0 is up to date' });
  });

  it.each<[string, (w: ReturnType<typeof worker>) => void]>([
    ['asked to exit', (w) => w.post({ v: PROTOCOL_VERSION, type: 'exit' })],
    ['the main process goes away', (w) => w.closeParent()],
  ])('ends the process when %s, cancelling what runs', async (_what, end) => {
    const w = worker();
    w.post({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options('1.0.0') });
    end(w);
    expect(w.exits()).toBe(1);
    expect(summary(await answerTo(w.sent, 1))).toBe('failed CANCELLED');
  });
});
