import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readTree } from '@tufup/testkit';
import { createArchive } from '../src/index.js';
import { FIXTURE_EMPTY_DIRS, FIXTURE_FILES, FIXTURE_LINKS, LONG_PATHS, writeFixtureBundle } from './bundle-fixture.js';
import { cleanTempDirs, tempDir } from './helpers.js';

const run = promisify(execFile);

afterEach(cleanTempDirs);

describe('our tar read by GNU tar', () => {
  it('is listed by `tar -tvf` with every path, link target and mode', async () => {
    const work = await tempDir();
    await writeFixtureBundle(join(work, 'app'));
    await createArchive(join(work, 'app'), join(work, 'app.tar.gz'), join(work, 'app.tar'));

    const { stdout } = await run('tar', ['-tvf', join(work, 'app.tar')], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    const lines = stdout.trimEnd().split('\n');
    const line = (path: string): string | undefined => lines.find((l) => l.endsWith(` ${path}`) || l.includes(` ${path} -> `));

    for (const file of FIXTURE_FILES) expect(line(file.path), file.path).toMatch(file.exec ? /^-rwxr-xr-x / : /^-rw-r--r-- /);
    for (const link of FIXTURE_LINKS) expect(line(link.path), link.path).toMatch(new RegExp(`^l.* ${link.path} -> ${link.target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    for (const dir of FIXTURE_EMPTY_DIRS) expect(line(`${dir}/`), dir).toMatch(/^drwxr-xr-x /);
    expect(line(LONG_PATHS.over255)).toBeDefined();
  });

  it('extracts it with `tar -xf` to the same tree as the source folder', async () => {
    const work = await tempDir();
    await writeFixtureBundle(join(work, 'app'));
    await createArchive(join(work, 'app'), join(work, 'app.tar.gz'), join(work, 'app.tar'));
    await mkdir(join(work, 'gnu'));
    await run('tar', ['-xzf', join(work, 'app.tar.gz'), '-C', join(work, 'gnu')]);
    expect(await readTree(join(work, 'gnu'))).toEqual(await readTree(join(work, 'app')));
  });
});
