import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadElectronLog } from '../src/main/electron-log.js';

// A thin electron-log in an app's node_modules: it counts how often it was loaded (the real one
// registers IPC handlers when loaded, which must happen once at most).
const FAKE_ELECTRON_LOG = `
globalThis.fakeElectronLogLoads = (globalThis.fakeElectronLogLoads ?? 0) + 1;
const lines = [];
module.exports = { lines, debug: (m) => lines.push(['debug', m]), info: (m) => lines.push(['info', m]), warn: (m) => lines.push(['warn', m]), error: (m) => lines.push(['error', m]) };
`;

const loads = (): number => (globalThis as { fakeElectronLogLoads?: number }).fakeElectronLogLoads ?? 0;

let root: string;

async function app(name: string, withElectronLog: boolean): Promise<string> {
  const dir = join(root, name);
  await mkdir(join(dir, 'node_modules', 'electron-log'), { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
  if (withElectronLog) {
    await writeFile(join(dir, 'node_modules', 'electron-log', 'package.json'), JSON.stringify({ name: 'electron-log', version: '5.4.4', exports: { './main': './main.js' } }));
    await writeFile(join(dir, 'node_modules', 'electron-log', 'main.js'), FAKE_ELECTRON_LOG);
  }
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tufup-electron-log-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('electron-log, an optional peer', () => {
  it('is the default logger when the app has it installed, loaded from the app\'s own node_modules, once', async () => {
    const dir = await app('with-log', true);
    const before = loads();
    const logger = loadElectronLog(dir, () => false);
    logger?.info('hello');
    expect((logger as unknown as { lines: unknown[] }).lines).toEqual([['info', 'hello']]);
    // Asked again (a second updater), or with a copy active (this one): the same instance, not loaded again.
    expect(loadElectronLog(dir, () => true)).toBe(logger);
    expect(loads()).toBe(before + 1);
  });

  it('is absent when the app does not have it: the updater is silent', async () => {
    expect(loadElectronLog(await app('without-log', false), () => false)).toBeUndefined();
  });

  it('is not loaded a second time when another copy is already set up (bundled into the app\'s main)', async () => {
    const dir = await app('bundled-log', true);
    const before = loads();
    expect(loadElectronLog(dir, () => true)).toBeUndefined();
    expect(loads()).toBe(before);
  });
});
