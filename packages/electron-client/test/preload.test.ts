import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    const tufup = createBridge(electron.window(electron.appPage()).ipcRenderer);
    expect(await tufup.status()).toEqual({ state: 'idle', currentVersion: '1.0.0' });
  });

  it('delivers events to a subscribed window with their arguments only', async () => {
    const tufup = createBridge(electron.window(electron.appPage()).ipcRenderer);
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
    const tufup = createBridge(electron.window(electron.appPage()).ipcRenderer);
    const codes: string[] = [];
    const off = tufup.on('error', (error) => codes.push(error.code));
    await tufup.status();
    await tufup.download();
    off();
    await tufup.download();
    expect(codes).toEqual(['NO_UPDATE']);
  });

  it('answers a request that fails with the error code, not an exception', async () => {
    const tufup = createBridge(electron.window(electron.appPage()).ipcRenderer);
    const result = await tufup.download();
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('NO_UPDATE');
  });

  it('refuses pages from origins that are not allowed, and sends them nothing', async () => {
    const page = electron.window('https://evil.example/');
    const tufup = createBridge(page.ipcRenderer);
    await expect(tufup.status()).rejects.toThrow();
    await expect(tufup.install()).rejects.toThrow();
    await createBridge(electron.window(electron.appPage()).ipcRenderer).install();
    expect(page.received).toEqual([]);
  });

  it('admits only the app\'s own pages by default: never another file on disk, a network share or a path that climbs out', async () => {
    const asks = async (url: string): Promise<boolean> =>
      createBridge(electron.window(url).ipcRenderer)
        .status()
        .then(
          () => true,
          () => false,
        );
    // The app's pages: in its asar archive and its resources folder.
    expect(await asks(electron.appPage('index.html'))).toBe(true);
    expect(await asks(electron.appPage('windows/settings.html'))).toBe(true);
    expect(await asks(pathToFileURL(join(root, 'resources', 'help', 'index.html')).href)).toBe(true);
    // Anything else a file: URL can name.
    expect(await asks(pathToFileURL(join(root, 'Downloads', 'evil.html')).href)).toBe(false);
    expect(await asks('file:///home/u/Downloads/evil.html')).toBe(false);
    expect(await asks('file://host/share/x.html')).toBe(false);
    expect(await asks(`${electron.appPage()}/../../../../Downloads/evil.html`)).toBe(false);
    expect(await asks(pathToFileURL(`${electron.appPath()}-evil/index.html`).href)).toBe(false);
    expect(await asks(pathToFileURL(electron.appPath()).href)).toBe(false);
  });

  it('admits a folder the app names as a file URL, and nothing beside it', async () => {
    const pages = join(root, 'pages');
    // An install that can update itself: its status is `idle`, not `unsupported`.
    await mkdir(join(root, 'bin'), { recursive: true });
    const custom = new StandinElectron({ name: 'demoapp', version: '1.0.0', userData: root, resourcesPath: join(root, 'res'), execPath: join(root, 'bin', 'x') });
    const served = new TufupUpdater({ url: 'http://127.0.0.1:9/', allowedOrigins: [pathToFileURL(`${pages}/`).href] }, custom);
    try {
      expect((await createBridge(custom.window(pathToFileURL(join(pages, 'a.html')).href).ipcRenderer).status()).state).toBe('idle');
      await expect(createBridge(custom.window(pathToFileURL(join(root, 'other', 'a.html')).href).ipcRenderer).status()).rejects.toThrow();
      // The default's own pages are not admitted unless `file:` is listed too.
      await expect(createBridge(custom.window(custom.appPage()).ipcRenderer).status()).rejects.toThrow();
    } finally {
      served.dispose();
    }
  });

  it('sends windows errors without absolute paths, while the log keeps them', async () => {
    const lines: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (...args: unknown[]) => void lines.push(args.join(' ')) };
    const logged = new StandinElectron({ name: 'demoapp', version: '1.0.0', userData: join(root, 'user data'), resourcesPath: join(root, 'no such resources'), execPath: join(root, 'app', 'demoapp') });
    const served = new TufupUpdater({ url: 'http://127.0.0.1:9/', workerPath: WORKER_PATH, logger }, logged);
    try {
      const tufup = createBridge(logged.window(logged.appPage()).ipcRenderer);
      const events: ErrorPayload[] = [];
      tufup.on('error', (error) => events.push(error));
      await tufup.status();
      const result = await tufup.check();
      expect(result.ok).toBe(false);
      const seen = [result.ok ? '' : result.error.message, ...events.map((e) => e.message), (await tufup.status()).error?.message ?? ''];
      for (const message of seen) expect(message).not.toContain(root);
      expect(seen[0]).toContain('…');
      expect(lines.join('\n')).toContain(root);
    } finally {
      served.dispose();
      logged.killWorkers();
    }
  });

  it('refuses iframes and frames that navigated away or were destroyed', async () => {
    await expect(createBridge(electron.window(electron.appPage('frame.html'), false).ipcRenderer).status()).rejects.toThrow();
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
    const closing = electron.window(electron.appPage());
    const staying = electron.window(electron.appPage());
    await createBridge(closing.ipcRenderer).status();
    const tufup = createBridge(staying.ipcRenderer);
    await tufup.status();
    closing.destroy();

    await tufup.install();

    expect(closing.received).toEqual([]);
    expect(staying.received).toHaveLength(1);
  });
});
