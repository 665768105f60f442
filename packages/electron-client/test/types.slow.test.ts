import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeBlock, ROOT } from '@tufup/testkit/electron-app';

// Tiny app projects, compiled by TypeScript the way apps configure it: do the package's types resolve
// (ESM and CommonJS projects; node16, nodenext and bundler resolution), and do the README's main files
// type-check against them and Electron's typings? Each line of APP fails to compile when a type is
// missing or fell back to `any`.

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const APP = `import { createUpdater, UpdateError, type TufupUpdater, type Progress, type UpdateErrorCode, type UpdaterStatus } from '@tufup/electron-client';
import { exposeUpdater, type UpdaterBridge } from '@tufup/electron-client/preload';
import { UpdateClient, type CoreOptions, type UpdateInfo } from '@tufup/electron-client/core';
import { startInstaller } from '@tufup/electron-client/install';

const updater: TufupUpdater = createUpdater({ url: 'https://updates.example/app' });
updater.on('download-progress', (p: Progress) => console.log(p.percent.toFixed(0), p.phase));
updater.on('error', (e) => {
  const code: UpdateErrorCode = e.code;
  // @ts-expect-error a code that does not exist
  const wrong: UpdateErrorCode = 'NOPE';
  console.log(e instanceof UpdateError, e instanceof Error, code, wrong);
});
// @ts-expect-error not an option
createUpdater({ notAnOption: true });
const status: UpdaterStatus['state'] = updater.getStatus().state;
const active: boolean = updater.isUpdaterActive();
const bridge: UpdaterBridge | undefined = undefined;
const options: Partial<CoreOptions> = { channel: 'beta' };
const sha: string | undefined = ({} as UpdateInfo).custom?.tufup.tar.sha256;
export { bridge, options, sha, status, active, exposeUpdater, UpdateClient, startInstaller };
`;

/** The TypeScript settings an app has in each case (module, moduleResolution). */
const MODES = [
  ['node16', 'node16'],
  ['nodenext', 'nodenext'],
  ['esnext', 'bundler'],
] as const;

describe('the package\'s types in app projects compiled by TypeScript', () => {
  let dir: string;
  beforeAll(async () => {
    // Inside the project, so that the fixtures find the package, electron and @types/node in node_modules.
    await mkdir(join(ROOT, '.tmp'), { recursive: true });
    dir = await mkdtemp(join(ROOT, '.tmp', 'types-'));
    for (const kind of ['esm', 'cjs'] as const) {
      await mkdir(join(dir, kind));
      await writeFile(join(dir, kind, 'package.json'), JSON.stringify({ name: `${kind}-app`, type: kind === 'esm' ? 'module' : 'commonjs' }));
      await writeFile(join(dir, kind, 'app.ts'), APP);
    }
    await writeFile(join(dir, 'esm', 'main.mjs'), await readmeBlock('main.mjs (ESM)'));
    await writeFile(join(dir, 'cjs', 'main.cjs'), await readmeBlock('main.cjs (CommonJS)'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const kind of ['esm', 'cjs'] as const) {
    for (const [module, resolution] of MODES) {
      it(`resolve in a${kind === 'esm' ? 'n ESM' : ' CommonJS'} project with module ${module}, moduleResolution ${resolution}, the README's main file included`, async () => {
        const main = kind === 'esm' ? 'main.mjs' : 'main.cjs';
        const args = [TSC, '--noEmit', '--strict', '--skipLibCheck', '--allowJs', '--checkJs', '--types', 'node', '--target', 'es2022', '--module', module, '--moduleResolution', resolution, 'app.ts', main];
        const result = await promisify(execFile)(process.execPath, args, { cwd: join(dir, kind) }).then(
          () => '',
          (error: unknown) => (error as { stdout?: string }).stdout ?? String(error),
        );
        expect(result).toBe('');
      });
    }
  }
});
