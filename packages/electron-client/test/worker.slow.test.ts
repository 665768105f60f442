import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Progress, StagedUpdate, UpdateInfo } from '../src/core/index.js';
import { PROTOCOL_VERSION, type MainMessage, type WorkerMessage, type WorkerOptions } from '../src/ipc/protocol.js';
import { readTree } from '@tufup/testkit';
import { TestRepo } from '@tufup/testkit/repo';
import { WORKER_PATH } from './standin/electron.js';

/** An HTTP proxy on 127.0.0.1 that tunnels CONNECT requests (as Node's env proxy sends them) and logs them. */
async function tunnelProxy(): Promise<{ server: Server; url: string; tunnels: string[] }> {
  const tunnels: string[] = [];
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, socket, head) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const [host = '', port = ''] = target.split(':');
    const upstream = connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`, tunnels };
}

/** The worker as a real child process, and everything it said. */
class WorkerUnderTest {
  readonly child: ChildProcess;
  readonly messages: WorkerMessage[] = [];
  private readonly waiters: (() => void)[] = [];

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.child = fork(WORKER_PATH, [], { env, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message) => {
      this.messages.push(message as WorkerMessage);
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  send(message: MainMessage | Record<string, unknown>): void {
    this.child.send(message);
  }

  /** Waits for the answer to request `id` (anything but progress and logs). */
  async answer(id: number): Promise<WorkerMessage> {
    for (;;) {
      const found = this.messages.find((m) => 'id' in m && m.id === id && m.type !== 'progress');
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
}

describe('the update worker, a real child process running the client core', () => {
  let fixture: TestRepo;
  let installDir: string;
  const workers: WorkerUnderTest[] = [];

  const start = (env?: NodeJS.ProcessEnv): WorkerUnderTest => {
    const worker = new WorkerUnderTest(env);
    workers.push(worker);
    return worker;
  };
  const options = (extra: Partial<WorkerOptions> = {}): WorkerOptions => ({ ...fixture.clientOptions('1.0.0', installDir), ...extra });

  beforeAll(async () => {
    fixture = await TestRepo.create();
    await fixture.publish('1.0.0');
    await fixture.publish('1.1.0', { releaseNotes: 'Smaller and faster.' });
    installDir = await fixture.install('1.0.0');
  });
  afterEach(() => {
    for (const worker of workers.splice(0)) worker.child.kill('SIGKILL');
  });
  afterAll(() => fixture.cleanup());

  it('outside Electron, sends every request through the proxy the standard variables name (NODE_USE_ENV_PROXY=1)', async () => {
    const proxy = await tunnelProxy();
    try {
      const repository = new URL(fixture.server.url).host;
      const worker = start({ ...process.env, NODE_USE_ENV_PROXY: '1', HTTP_PROXY: proxy.url, NO_PROXY: '' });
      worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options() });
      expect(await worker.answer(1)).toMatchObject({ type: 'checked', info: { version: '1.1.0' } });
      expect(proxy.tunnels.length).toBeGreaterThan(0);
      expect(new Set(proxy.tunnels)).toEqual(new Set([repository]));
    } finally {
      proxy.server.close();
    }
  });

  it('checks, then downloads with progress, and stages the exact new bundle', async () => {
    const worker = start();
    const workerOptions = options();
    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: workerOptions });
    const checked = await worker.answer(1);
    expect(checked).toMatchObject({ type: 'checked', info: { version: '1.1.0', releaseNotes: 'Smaller and faster.' } });
    const info = (checked as { info: UpdateInfo }).info;

    worker.send({ v: PROTOCOL_VERSION, type: 'download', id: 2, options: workerOptions, info });
    const downloaded = await worker.answer(2);

    expect(downloaded.type).toBe('downloaded');
    const staged = (downloaded as { staged: StagedUpdate }).staged;
    expect(staged.version).toBe('1.1.0');
    expect(await readTree(staged.stagedDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
    const progress = worker.messages.filter((m): m is WorkerMessage & { progress: Progress } => m.type === 'progress').map((m) => m.progress);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.percent).toBe(100);
  });

  it('downloads in a fresh worker from the info a previous worker found', async () => {
    const first = start();
    const workerOptions = options();
    first.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: workerOptions });
    const info = ((await first.answer(1)) as { info: UpdateInfo }).info;
    first.send({ v: PROTOCOL_VERSION, type: 'exit' });
    expect(await first.exited()).toBe(0);

    const second = start();
    second.send({ v: PROTOCOL_VERSION, type: 'download', id: 1, options: workerOptions, info });
    expect(await second.answer(1)).toMatchObject({ type: 'downloaded', staged: { version: '1.1.0' } });
  });

  it('runs requests one at a time even when the options change, so two clients never write one cache at once', async () => {
    const worker = start();
    const workerOptions = options();
    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: workerOptions });
    const info = ((await worker.answer(1)) as { info: UpdateInfo }).info;
    const [file] = info.plan.files;
    if (file === undefined) throw new Error('the plan has no file');
    // The download is cut twice and resumes after the retry delays: still running when the next request comes.
    fixture.server.on({ pathEnd: file.targetPath.slice(file.targetPath.lastIndexOf('/') + 1), does: { kind: 'cut', afterBytes: Math.floor(file.size / 2) }, times: 2 });
    try {
      worker.send({ v: PROTOCOL_VERSION, type: 'download', id: 2, options: workerOptions, info });
      // The app switched channel mid-download: other options, so another client over the same cache.
      worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 3, options: { ...workerOptions, channel: 'beta' } });
      expect(await worker.answer(2)).toMatchObject({ type: 'downloaded', staged: { version: '1.1.0' } });
      expect(await worker.answer(3)).toMatchObject({ type: 'checked', info: { version: '1.1.0' } });
    } finally {
      fixture.server.behave();
    }
    const answers = worker.messages.filter((m) => m.type === 'downloaded' || m.type === 'checked').map((m) => ('id' in m ? m.id : undefined));
    expect(answers).toEqual([1, 2, 3]);
  });

  it('answers up to date with no update', async () => {
    const worker = start();
    const upToDate = { ...fixture.clientOptions('1.1.0', await fixture.install('1.1.0')) };
    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 5, options: upToDate });
    expect(await worker.answer(5)).toEqual({ v: PROTOCOL_VERSION, type: 'checked', id: 5, info: null });
  });

  it('skips versions main excludes (rolled back by the health check)', async () => {
    const worker = start();
    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options({ excludeVersions: ['1.1.0'] }) });
    expect(await worker.answer(1)).toMatchObject({ type: 'checked', info: null });
  });

  it('reports a failure with its error code and keeps serving', async () => {
    const worker = start();
    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options({ metadataUrl: 'http://127.0.0.1:9/metadata/', retries: 0 }) });
    expect(await worker.answer(1)).toMatchObject({ type: 'failed', error: { code: 'NETWORK' } });

    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 2, options: options({ appName: 'not a name!' }) });
    expect(await worker.answer(2)).toMatchObject({ type: 'failed', error: { code: 'CONFIG' } });

    worker.send({ v: PROTOCOL_VERSION, type: 'check', id: 3, options: options() });
    expect(await worker.answer(3)).toMatchObject({ type: 'checked', info: { version: '1.1.0' } });
  });

  it('forwards the core diagnostics as log messages only when asked', async () => {
    const quiet = start();
    quiet.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options() });
    await quiet.answer(1);
    expect(quiet.messages.filter((m) => m.type === 'log')).toEqual([]);

    const chatty = start();
    chatty.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: options({ log: true }) });
    await chatty.answer(1);
    expect(chatty.messages.some((m) => m.type === 'log' && m.message.includes('1.1.0'))).toBe(true);
  });

  it('refuses a request of another protocol version with an answer, not silence', async () => {
    const worker = start();
    worker.send({ v: PROTOCOL_VERSION + 1, type: 'check', id: 9, options: options() });
    expect(await worker.answer(9)).toMatchObject({ type: 'failed', id: 9, error: { code: 'INTERNAL' } });
  });

  it('exits when told to, and when the main process goes away', async () => {
    const told = start();
    told.send({ v: PROTOCOL_VERSION, type: 'exit' });
    expect(await told.exited()).toBe(0);

    const orphaned = start();
    orphaned.child.disconnect();
    expect(await orphaned.exited()).toBe(0);
  });
});
