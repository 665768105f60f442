import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ErrorPayload } from '../src/ipc/errors.js';
import { TufupUpdater } from '../src/main/updater.js';
import { createBridge } from '../src/preload/renderer-bridge.js';
import { StandinElectron, WORKER_PATH } from './standin/electron.js';

let root: string;
let electron: StandinElectron;
let updater: TufupUpdater;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-preload-'));
  await mkdir(join(root, 'app'), { recursive: true });
  electron = new StandinElectron({
    name: 'demoapp',
    version: '1.0.0',
    userData: join(root, 'userData'),
    resourcesPath: join(root, 'resources'),
    execPath: join(root, 'app', 'demoapp'),
  });
  updater = new TufupUpdater({ url: 'http://127.0.0.1:9/', workerPath: WORKER_PATH }, electron);
});

afterEach(async () => {
  updater.dispose();
  electron.killWorkers();
  await rm(root, { recursive: true, force: true });
});

describe('the preload bridge', () => {
  it('tells a window where the updater is', async () => {
    const tufup = createBridge(electron.window('file:///app/index.html').ipcRenderer);
    expect(await tufup.status()).toEqual({ state: 'idle', currentVersion: '1.0.0' });
  });

  it('delivers events to a subscribed window with their arguments only', async () => {
    const tufup = createBridge(electron.window('file:///app/index.html').ipcRenderer);
    const errors: unknown[][] = [];
    tufup.on('error', (...args) => errors.push(args));
    await tufup.status();

    const result = await tufup.install();

    expect(result).toEqual({ ok: false, error: { code: 'NO_UPDATE', message: expect.any(String) as string } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toHaveLength(1);
    expect((errors[0]![0] as ErrorPayload).code).toBe('NO_UPDATE');
    expect(electron.quitCount).toBe(0);
  });

  it('stops calling a listener once it unsubscribed', async () => {
    const tufup = createBridge(electron.window('file:///app/index.html').ipcRenderer);
    const codes: string[] = [];
    const off = tufup.on('error', (error) => codes.push(error.code));
    await tufup.status();
    await tufup.download();
    off();
    await tufup.download();
    expect(codes).toEqual(['NO_UPDATE']);
  });

  it('answers a request that fails with the error code, not an exception', async () => {
    const tufup = createBridge(electron.window('file:///app/index.html').ipcRenderer);
    const result = await tufup.download();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('NO_UPDATE');
  });

  it('refuses pages from origins that are not allowed, and sends them nothing', async () => {
    const page = electron.window('https://evil.example/');
    const tufup = createBridge(page.ipcRenderer);
    await expect(tufup.status()).rejects.toThrow();
    await expect(tufup.install()).rejects.toThrow();
    await createBridge(electron.window('file:///app/index.html').ipcRenderer).install();
    expect(page.received).toEqual([]);
  });

  it('refuses iframes and frames that navigated away or were destroyed', async () => {
    await expect(createBridge(electron.window('file:///app/frame.html', false).ipcRenderer).status()).rejects.toThrow();
    await expect(createBridge(electron.window(undefined).ipcRenderer).status()).rejects.toThrow();
  });

  it('accepts the origins the app allows', async () => {
    const custom = new StandinElectron({ name: 'demoapp', version: '1.0.0', userData: root, resourcesPath: root, execPath: join(root, 'x') });
    const served = new TufupUpdater({ url: 'http://127.0.0.1:9/', allowedOrigins: ['https://app.example', 'app:'] }, custom);
    try {
      expect((await createBridge(custom.window('https://app.example/index.html').ipcRenderer).status()).state).toBe('idle');
      expect((await createBridge(custom.window('app://bundle/index.html').ipcRenderer).status()).state).toBe('idle');
      await expect(createBridge(custom.window('file:///index.html').ipcRenderer).status()).rejects.toThrow();
      await expect(createBridge(custom.window('https://app.example.evil.test/').ipcRenderer).status()).rejects.toThrow();
    } finally {
      served.dispose();
    }
  });

  it('stops sending to a window once it is closed', async () => {
    const closing = electron.window('file:///app/index.html');
    const staying = electron.window('file:///app/index.html');
    await createBridge(closing.ipcRenderer).status();
    const tufup = createBridge(staying.ipcRenderer);
    await tufup.status();
    closing.destroy();

    await tufup.install();

    expect(closing.received).toEqual([]);
    expect(staying.received).toHaveLength(1);
  });
});
