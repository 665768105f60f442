import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrustFile } from '@tufup/bundle';
import { linuxElectron } from '../packages/repo-tools/test/helpers/electron-dist.js';

const ROOT = resolve(import.meta.dirname, '..');

// The CI smoke run (scripts/ci-smoke.ts, run by .github/workflows/smoke.yml on three OSes) here, where
// Electron cannot start: every step but the launch, packaging from a stand-in Electron distribution.
describe('scripts/ci-smoke.ts up to the launch of real Electron', () => {
  let tmp: string;
  let output = '';
  let code: number | undefined;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'tufup-ci-smoke-'));
    const dist = await linuxElectron(join(tmp, 'electron'));
    const work = join(tmp, 'work');
    // Without the npm_* variables of an outer `npm test`, which would point npm at the workspace.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
    await new Promise<void>((resolvePromise) => {
      execFile(
        join(ROOT, 'node_modules/.bin/node'),
        ['scripts/ci-smoke.ts', '--no-launch', '--electron-dist', dist, '--work', work],
        { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024 },
        (error, stdout, stderr) => {
          output = `${stdout}${stderr}`;
          code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolvePromise();
        },
      );
    });
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it('packages 1.0.0 and 1.1.0 with electron-builder, publishes them, and the packaged 1.0.0 updates with a patch', async () => {
    if (code !== 0) console.log(output);
    expect(code).toBe(0);
    for (const line of [
      '[4/9] electron-builder: packaging Tufup Demo 1.0.0',
      '[5/9] electron-builder: packaging Tufup Demo 1.1.0',
      'timestamp.json last',
      'found 1.1.0 (patch,',
      '[9/9] skipped (--no-launch)',
      'smoke run: every step before the launch passed',
    ]) {
      expect(output).toContain(line);
    }
    const work = join(tmp, 'work');
    // The installed 1.0.0 ships the repository's trust file, with the URL the published site is served at.
    const trust = parseTrustFile(await readFile(join(work, 'install', 'Tufup Demo', 'resources', 'tufup.json')));
    expect(trust.appName).toBe('tufup-demo-app');
    expect(trust.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const published = await readdir(join(work, 'site', 'targets', 'linux-x64'));
    expect(published.map((f) => f.replace(/^[0-9a-f]{64}\./, '')).sort()).toEqual([
      'tufup-demo-app-1.0.0.entries',
      'tufup-demo-app-1.0.0.tar.gz',
      'tufup-demo-app-1.1.0.entries',
      'tufup-demo-app-1.1.0.patch',
      'tufup-demo-app-1.1.0.tar.gz',
    ]);
  });
});
