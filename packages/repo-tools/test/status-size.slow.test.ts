import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk, tempDir, writeBundle } from './helpers/fixtures.js';

// Every client downloads the whole targets metadata after each release and verifies it on every check,
// so the publisher hears about it when it grows large, and how to shrink it.
describe('tufup-repo status and the size of the targets metadata', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  const cli = async (...args: string[]): Promise<string> =>
    (await cliOk([...args, '--repo', join(tmp, 'repo'), '--keys-dir', join(tmp, 'keys')])).stdout;

  beforeAll(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    await cli('init', '--app-name', 'demo');
  });
  afterAll(() => cleanup());

  it('says nothing about a small repository and reports the size', async () => {
    await cli('add', await writeBundle(join(tmp, 'b0'), 0), '--version', '1.0.0', '--platform', 'linux', '--arch', 'x64');
    const text = await cli('status');
    // The archive and its entry list.
    expect(text).toMatch(/targets metadata [\d.]+ KiB \(2 targets\)/);
    expect(text).toMatch(/1\.0\.0 +archive [\d.]+ KiB, entry list [\d.]+ KiB/);
    expect(text).not.toContain('prune');
  });

  it('warns past 1 MiB, naming the size and the prune command, and stops once pruned', async () => {
    // Long release notes travel in the metadata of both the archive and the patch of a version (not in
    // its entry list's, which says nothing about the release).
    const notes = join(tmp, 'notes.md');
    await writeFile(notes, `${'All the changes of a busy year. '.repeat(20_000)}\n`);
    await cli('add', await writeBundle(join(tmp, 'b1'), 1), '--version', '1.1.0', '--platform', 'linux', '--arch', 'x64', '--notes', notes);
    await cli('add', await writeBundle(join(tmp, 'b2'), 2), '--version', '1.2.0', '--platform', 'linux', '--arch', 'x64');
    const large = JSON.parse(await cli('status', '--json')) as { warnings: string[]; targetsMetadata: { size: number; targets: number } };
    expect(large.targetsMetadata.size).toBeGreaterThan(1024 * 1024);
    // Three archives, three entry lists, two patches: the warning counts every target.
    expect(large.targetsMetadata.targets).toBe(8);
    expect(large.warnings).toContainEqual(expect.stringMatching(/targets metadata is 1\.\d MiB \(8 targets\).*tufup-repo prune --keep N/));
    expect(await cli('status')).toMatch(/^warning: the targets metadata is 1\.\d MiB/m);

    await cli('prune', '--keep', '1');
    const pruned = JSON.parse(await cli('status', '--json')) as { warnings: string[]; targetsMetadata: { size: number; targets: number } };
    expect(pruned.targetsMetadata.size).toBeLessThan(64 * 1024);
    // 1.2.0's archive, entry list and patch (from the pruned 1.1.0, for installs still running it).
    expect(pruned.targetsMetadata.targets).toBe(3);
    expect(pruned.warnings.filter((w) => w.includes('prune'))).toEqual([]);
  });
});
