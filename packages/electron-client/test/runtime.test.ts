import { execFileSync, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UpdateError } from '../src/core/error.js';
import { runtimeProblem, zstdDictionaryWorks } from '../src/core/runtime.js';
import { TufupUpdater } from '../src/main/updater.js';
import { PROTOCOL_VERSION, type WorkerMessage } from '../src/ipc/protocol.js';
import { StandinElectron, WORKER_PATH } from './standin/electron.js';

/** A Node older than the floor on this machine (Debian's), to run the real worker on; undefined if none. */
function olderNode(): { path: string; version: string } | undefined {
  for (const path of ['/usr/bin/node', '/usr/local/bin/node', '/usr/bin/nodejs']) {
    if (!existsSync(path)) continue;
    const version = execFileSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
    if (runtimeProblem({ node: version, zstdDictionary: false }) !== undefined && Number(version.split('.')[0]) >= 18) return { path, version };
  }
  return undefined;
}
const older = olderNode();

describe('the runtime floor: Electron 43 (zstd dictionaries in node:zlib)', () => {
  it('names the version found and the one needed', () => {
    expect(runtimeProblem({ electron: '42.3.0', node: '22.18.0', zstdDictionary: false })).toBe(
      'tufup needs Electron >= 43 (Node >= 24.6.0 or 22.19.0, with zstd dictionaries in node:zlib); this is Electron 42.3.0 (Node 22.18.0)',
    );
    expect(runtimeProblem({ node: '24.5.0', zstdDictionary: true })).toMatch(/this is Node 24\.5\.0$/);
    expect(runtimeProblem({ node: '22.18.1', zstdDictionary: true })).toMatch(/this is Node 22\.18\.1$/);
  });

  it('accepts Electron 43 and later, and Node 24.6 / 22.19 outside Electron, when zstd dictionaries work', () => {
    expect(runtimeProblem({ electron: '43.0.0', node: '24.17.0', zstdDictionary: true })).toBeUndefined();
    expect(runtimeProblem({ electron: '45.4.1', node: '24.21.0', zstdDictionary: true })).toBeUndefined();
    expect(runtimeProblem({ node: '24.6.0', zstdDictionary: true })).toBeUndefined();
    expect(runtimeProblem({ node: '22.19.0', zstdDictionary: true })).toBeUndefined();
  });

  it('tests the feature, not only the version: a zlib without working dictionaries is refused', () => {
    expect(zstdDictionaryWorks()).toBe(true);
    expect(runtimeProblem({ electron: '45.0.0', node: '24.21.0', zstdDictionary: false })).toMatch(/Electron 45\.0\.0 \(Node 24\.21\.0\) has no working zstd dictionary support/);
  });

  it('makes createUpdater throw UNSUPPORTED_RUNTIME on an older Electron', () => {
    const electron = new StandinElectron({ name: 'demoapp', version: '1.0.0', userData: '/nonexistent/u', resourcesPath: '/nonexistent/r', execPath: '/nonexistent/e', versions: { electron: '42.1.0', node: '22.18.0' } });
    let thrown: unknown;
    try {
      new TufupUpdater({}, electron).dispose();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UpdateError);
    expect(thrown).toMatchObject({ code: 'UNSUPPORTED_RUNTIME', message: expect.stringContaining('this is Electron 42.1.0') as unknown });
  });

  it.skipIf(older === undefined)(`makes the worker, run on an older Node (${older?.version ?? 'none found'}), answer UNSUPPORTED_RUNTIME instead of dying`, async () => {
    const child = fork(WORKER_PATH, [], { execPath: older?.path ?? '', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const answer = new Promise<WorkerMessage>((resolve) => child.once('message', (m) => resolve(m as WorkerMessage)));
    child.send({ v: PROTOCOL_VERSION, type: 'check', id: 1, options: {} });
    expect(await answer).toEqual({
      v: PROTOCOL_VERSION,
      type: 'failed',
      id: 1,
      error: { code: 'UNSUPPORTED_RUNTIME', message: `tufup needs Electron >= 43 (Node >= 24.6.0 or 22.19.0, with zstd dictionaries in node:zlib); this is Node ${older?.version ?? ''}` },
    });
    child.send({ v: PROTOCOL_VERSION, type: 'exit' });
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    expect(stderr).toBe('');
  });
});
