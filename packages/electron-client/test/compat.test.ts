import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppUpdater } from '../src/compat/app-updater.js';
import { CancellationError, CancellationToken } from '../src/compat/cancellation.js';
import { TufupUpdater } from '../src/main/updater.js';
import { StandinElectron, type StandinFacts } from './standin/electron.js';

let root: string;
const made: TufupUpdater[] = [];

function compat(facts: Partial<StandinFacts> = {}): { autoUpdater: AppUpdater; made: () => TufupUpdater | undefined } {
  const electron = new StandinElectron({ name: 'legacyapp', version: '2.3.4', userData: join(root, 'config', 'Legacy'), home: join(root, 'home'), resourcesPath: join(root, 'install', 'resources'), execPath: join(root, 'install', 'legacy'), ...facts });
  let last: TufupUpdater | undefined;
  const autoUpdater = new AppUpdater((options) => {
    last = new TufupUpdater(options, electron);
    made.push(last);
    return last;
  });
  return { autoUpdater, made: () => last };
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-compat-'));
  await mkdir(join(root, 'install', 'resources'), { recursive: true });
});
afterEach(async () => {
  for (const updater of made.splice(0)) updater.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('the electron-updater compatible autoUpdater', () => {
  it('makes nothing until it is used, then carries its settings over', () => {
    const { autoUpdater, made: updater } = compat();
    autoUpdater.channel = null;
    autoUpdater.allowPrerelease = true;
    autoUpdater.autoInstallOnAppQuit = false;
    autoUpdater.requestHeaders = { 'x-tenant': ['a', 'b'], 'x-build': 42 };
    autoUpdater.addAuthHeader('Bearer t0k3n');
    expect(updater()).toBeUndefined();
    expect(autoUpdater.currentVersion.version).toBe('2.3.4');
    expect(autoUpdater.currentVersion.compare('2.3.3')).toBe(1);
    expect(updater()).toMatchObject({ channel: 'latest', allowPrerelease: true, autoInstallOnAppQuit: false, autoDownload: false, headers: { 'x-tenant': 'a, b', 'x-build': '42', authorization: 'Bearer t0k3n' } });
  });

  it('takes a logger whose debug is optional, as electron-updater\'s', () => {
    const { autoUpdater, made: updater } = compat();
    const lines: string[] = [];
    autoUpdater.logger = { info: (m) => lines.push(`info ${String(m)}`), warn: (m) => lines.push(`warn ${String(m)}`), error: (m) => lines.push(`error ${String(m)}`) };
    expect(autoUpdater.isUpdaterActive()).toBe(true);
    updater()?.logger?.debug('not shown');
    updater()?.logger?.info('tufup:', 'two', 'parts');
    expect(lines).toEqual(['info tufup: two parts']);
    autoUpdater.logger = null;
    expect(autoUpdater.isUpdaterActive()).toBe(true);
    expect(updater()?.logger).toBeUndefined();
  });

  it('takes a generic feed URL and refuses other providers with CONFIG', () => {
    const { autoUpdater } = compat();
    autoUpdater.setFeedURL({ provider: 'generic', url: 'https://updates.example/legacy' });
    expect(autoUpdater.getFeedURL()).toBe('https://updates.example/legacy');
    autoUpdater.setFeedURL('https://mirror.example/legacy');
    expect(autoUpdater.getFeedURL()).toBe('https://mirror.example/legacy');
    expect(() => autoUpdater.setFeedURL({ provider: 'github' })).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining('"github"') as unknown }) as Error);
  });

  it('resolves null from checkForUpdates when the install cannot update itself, as electron-updater does unpackaged', async () => {
    const { autoUpdater } = compat({ packaged: false });
    const events: string[] = [];
    autoUpdater.on('checking-for-update', () => events.push('checking-for-update'));
    expect(autoUpdater.isUpdaterActive()).toBe(false);
    expect(await autoUpdater.checkForUpdates()).toBeNull();
    expect(events).toEqual([]);
  });

  it('does not throw from quitAndInstall without a downloaded update; the error event says why', () => {
    const { autoUpdater } = compat();
    const errors: string[] = [];
    autoUpdater.on('error', (error) => errors.push(error.message));
    expect(() => autoUpdater.quitAndInstall(true, true)).not.toThrow();
    expect(errors).toEqual([expect.stringContaining('no downloaded update') as unknown]);
  });
});

describe('the CancellationToken', () => {
  it('cancels once, and is an AbortSignal inside', () => {
    const token = new CancellationToken();
    let fired = 0;
    token.on('cancel', () => fired++);
    token.cancel();
    token.cancel();
    expect([token.cancelled, token.signal.aborted, fired]).toEqual([true, true, 1]);
    expect(token.signal.reason).toBeInstanceOf(CancellationError);
  });

  it('is cancelled with its parent, until disposed', () => {
    const parent = new CancellationToken();
    const child = new CancellationToken(parent);
    const other = new CancellationToken(parent);
    other.dispose();
    parent.cancel();
    expect([child.cancelled, other.cancelled]).toEqual([true, false]);
  });
});
