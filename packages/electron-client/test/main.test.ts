import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpdateError } from '../src/core/index.js';
import { healthMarkerPath } from '../src/install/installer.js';
import { defaultInstallDir, resolveUpdaterOptions, UPDATER_DEFAULTS } from '../src/main/config.js';
import { toErrorPayload } from '../src/ipc/errors.js';
import { TufupUpdater } from '../src/main/updater.js';
import { StandinElectron, type StandinFacts } from './standin/electron.js';

let root: string;
const updaters: TufupUpdater[] = [];

function facts(extra: Partial<StandinFacts> = {}): StandinFacts {
  return {
    name: 'demoapp',
    version: '1.4.2',
    userData: join(root, 'config', 'Demo App'),
    home: join(root, 'home'),
    resourcesPath: join(root, 'install', 'resources'),
    execPath: join(root, 'install', 'demoapp'),
    argv: [join(root, 'install', 'demoapp'), '--flag'],
    ...extra,
  };
}

function create(electron: StandinElectron, options: ConstructorParameters<typeof TufupUpdater>[0]): TufupUpdater {
  const updater = new TufupUpdater(options, electron);
  updaters.push(updater);
  return updater;
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-main-'));
  // A writable install folder: an install that can update itself.
  await mkdir(join(root, 'install', 'resources'), { recursive: true });
});
afterEach(async () => {
  for (const updater of updaters.splice(0)) updater.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('the updater options', () => {
  it('derive everything from the running app, the trust file in its resources and the OS cache folder', () => {
    const resolved = resolveUpdaterOptions({}, new StandinElectron(facts()), 'linux');
    expect(resolved).toMatchObject({
      currentVersion: '1.4.2',
      installDir: join(root, 'install'),
      cacheDir: join(root, 'home', '.cache', 'Demo App', 'tufup'),
      trustedRoot: join(root, 'install', 'resources', 'tufup.json'),
      relaunchCommand: [join(root, 'install', 'demoapp'), '--flag'],
      autoDownload: UPDATER_DEFAULTS.autoDownload,
      autoInstallOnAppQuit: UPDATER_DEFAULTS.autoInstallOnAppQuit,
      healthCheckTimeoutMs: UPDATER_DEFAULTS.healthCheckTimeoutMs,
      allowedOrigins: ['file:'],
    });
  });

  it('take the whole .app bundle as the install folder on macOS', () => {
    expect(defaultInstallDir('/Applications/Demo.app/Contents/MacOS/Demo', 'darwin')).toBe('/Applications/Demo.app');
    expect(defaultInstallDir('C:\\Program Files\\Demo\\Demo.exe'.replaceAll('\\', '/'), 'win32')).toBe('C:/Program Files/Demo');
  });

  it('let each option override its default', () => {
    const resolved = resolveUpdaterOptions(
      { metadataUrl: 'https://m.example/', targetsUrl: 'https://cdn.example/t/', installDir: '/opt/demo', cacheDir: '/var/cache/demo', trustedRoot: '/etc/demo/root.json', channel: 'beta', autoDownload: false, logger: null },
      new StandinElectron(facts()),
    );
    expect(resolved).toMatchObject({ metadataUrl: 'https://m.example/', targetsUrl: 'https://cdn.example/t/', installDir: '/opt/demo', cacheDir: '/var/cache/demo', trustedRoot: '/etc/demo/root.json', channel: 'beta', autoDownload: false, logger: undefined });
  });

  it('read a fact of the running app only when the option it defaults is not given', () => {
    // A main process run under plain Node has no process.resourcesPath.
    const electron = new StandinElectron(facts());
    electron.resourcesPath = () => {
      throw new TypeError('process.resourcesPath is undefined');
    };
    expect(resolveUpdaterOptions({ url: 'https://updates.example/', trustedRoot: '/etc/demo/root.json' }, electron).trustedRoot).toBe('/etc/demo/root.json');
    expect(() => resolveUpdaterOptions({ url: 'https://updates.example/' }, electron)).toThrow(TypeError);
  });

  it('keep the default of an option given as undefined', () => {
    const resolved = resolveUpdaterOptions({ url: 'https://updates.example/', channel: undefined, autoDownload: undefined }, new StandinElectron(facts()));
    expect(resolved).toMatchObject({ channel: 'latest', autoDownload: true });
  });

  it('read no file: a missing trust file is the first check\'s CONFIG error, never a throw where the app makes the updater', async () => {
    const updater = create(new StandinElectron(facts()), {});
    const codes: string[] = [];
    updater.on('error', (error) => codes.push(error.code));
    await expect(updater.checkForUpdates()).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining('tufup.json') as unknown });
    expect(codes).toEqual(['CONFIG']);
  });
});

describe('the updater', () => {
  it('exposes electron-updater property names, settable at run time', () => {
    const updater = create(new StandinElectron(facts()), { url: 'https://updates.example/' });
    expect([updater.autoDownload, updater.autoInstallOnAppQuit, updater.allowPrerelease, updater.channel]).toEqual([true, true, false, 'latest']);
    updater.channel = 'beta';
    updater.autoDownload = false;
    expect([updater.channel, updater.autoDownload]).toEqual(['beta', false]);
    expect(updater.currentVersion).toBe('1.4.2');
  });

  it('refuses to install when nothing was downloaded, and does not quit', () => {
    const electron = new StandinElectron(facts());
    const updater = create(electron, { url: 'https://updates.example/' });
    const codes: string[] = [];
    updater.on('error', (error) => codes.push(error.code));
    expect(() => updater.quitAndInstall()).toThrow(UpdateError);
    expect(codes).toEqual(['NO_UPDATE']);
    expect(electron.quitCount).toBe(0);
  });

  it('does not crash the app when an error has no listener', async () => {
    const updater = create(new StandinElectron(facts()), { url: 'https://updates.example/' });
    await expect(updater.downloadUpdate()).rejects.toMatchObject({ code: 'NO_UPDATE' });
  });

  it('writes the health marker the installer waits for', async () => {
    const updater = create(new StandinElectron(facts()), { url: 'https://updates.example/' });
    await updater.markHealthy();
    expect(await readFile(healthMarkerPath(join(root, 'home', '.cache', 'Demo App', 'tufup'), '1.4.2'), 'utf8')).not.toBe('');
  });

  it('stays idle when the app runs unpackaged, where the install folder would be Electron itself', async () => {
    const electron = new StandinElectron(facts({ packaged: false }));
    const updater = create(electron, { url: 'http://127.0.0.1:9/' });
    const events: string[] = [];
    updater.on('checking-for-update', () => events.push('checking-for-update'));
    expect(updater.isUpdaterActive()).toBe(false);
    expect(await updater.checkForUpdates()).toBeUndefined();
    expect(await updater.applyPendingUpdate()).toBe(false);
    expect(events).toEqual([]);
    expect(electron.workers).toEqual([]);
    expect(updater.getStatus()).toMatchObject({ state: 'unsupported', unsupported: { code: 'UNSUPPORTED_INSTALL', reason: 'unpackaged' } });
    await expect(updater.downloadUpdate()).rejects.toMatchObject({ code: 'UNSUPPORTED_INSTALL' });
  });

  it('does nothing at quit when no update was downloaded', () => {
    const electron = new StandinElectron(facts());
    create(electron, { url: 'https://updates.example/' });
    electron.quit();
    expect(electron.workers).toEqual([]);
  });

  it('serves the renderer channels once, and frees them on dispose', () => {
    const electron = new StandinElectron(facts());
    const first = create(electron, { url: 'https://updates.example/' });
    expect(() => new TufupUpdater({ url: 'https://updates.example/' }, electron)).toThrow();
    first.dispose();
    create(electron, { url: 'https://updates.example/' });
  });
});

describe('errors as the app and its windows see them', () => {
  it('keeps a file-system failure recognisable as DISK instead of calling it INTERNAL', async () => {
    const file = join(root, 'not-a-folder');
    await writeFile(file, '');
    const real: unknown = await mkdir(join(file, 'cache')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(toErrorPayload(real, 'the updater').code).toBe('DISK');
  });

  it('passes an UpdateError through with its code and message', () => {
    expect(toErrorPayload(new UpdateError('NETWORK', 'the server is down'), 'the updater')).toEqual({ code: 'NETWORK', message: 'the server is down' });
  });

  it('calls what it cannot recognise INTERNAL', () => {
    expect(toErrorPayload(new TypeError('x is undefined'), 'the updater').code).toBe('INTERNAL');
  });
});
