import { execFile } from 'node:child_process';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateError } from '@tufup/electron-client/core';
import { CUSTOM_SCHEMA, digestBuffer, type TargetCustom } from '@tufup/bundle';
import { rejectionOf } from '@tufup/testkit';
import { APP, ARCH, BUILD, PLATFORM, Repo, writeBundle } from './helpers/fixture.js';
import { Forge, putTarget, targetFilePath } from './helpers/forge.js';
import { rawTarGz } from './helpers/tar.js';

// One set of bundle rules (@tufup/bundle's validator) for the publisher and for every client: what a
// client's extraction refuses, `tufup-repo add` refuses to publish and `tufup-repo verify` reports,
// each naming the entry. Real CLI, real client, a repository on 127.0.0.1.

const CLI = fileURLToPath(new URL('../packages/repo-tools/bin/tufup-repo.js', import.meta.url));
const run = promisify(execFile);

/** Runs the real CLI; its exit code and output, whether it failed or not. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: unknown) => {
      const failed = e as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    },
  );
}

describe('a bundle with a symlink out of it', () => {
  let repo: Repo;
  const where = (): string[] => ['--repo', repo.repoDir, '--keys-dir', repo.keysDir];

  beforeAll(async () => {
    repo = await Repo.create();
    await repo.publish('1.0.0');
  });
  afterAll(() => repo.cleanup());

  it.each([
    ['/etc/passwd', 'resources/passwd'],
    ['../../..', 'resources/up'],
  ])('is refused by tufup-repo add when it links to %s, naming the entry, and nothing is published', async (target, entry) => {
    const dir = await writeBundle(await repo.folder('bad-bundle'), '1.1.0');
    await symlink(target, join(dir, entry));
    const before = await readdir(join(repo.repoDir, 'metadata'));
    const added = await cli('add', dir, '--version', '1.1.0', '--platform', PLATFORM, '--arch', ARCH, ...where());
    expect(added.code).not.toBe(0);
    expect(added.stderr).toContain(`the entry "${entry}" of the bundle folder ${dir} is a symlink to "${target}", outside the folder; no client would install it`);
    expect(await readdir(join(repo.repoDir, 'metadata'))).toEqual(before);
  });

  it('published by an older publisher: tufup-repo verify fails naming the entry, and the client refuses it with the same rule', async () => {
    // Signed with the repository's real targets key, as a publisher without the rules would have made it.
    const { tar, gz } = rawTarGz([
      { path: APP, content: '#!/bin/sh\necho 2.0.0\n', mode: 0o755 },
      { path: 'resources/', type: '5' },
      { path: 'resources/passwd', type: '2', linkname: '/etc/passwd' },
    ]);
    const path = `${BUILD}/${APP}-2.0.0.tar.gz`;
    const custom: TargetCustom = { tufup: { schema: CUSTOM_SCHEMA, kind: 'archive', name: APP, version: '2.0.0', platform: PLATFORM, arch: ARCH, tar: digestBuffer(tar), required: false } };
    const forge = await Forge.open(repo.repoDir, repo.keysDir);
    const files = await forge.forge({ targets: { edit: (t) => putTarget(t, path, gz, custom) } });
    files.set(targetFilePath(path, gz), gz);
    for (const [file, bytes] of files) {
      await mkdir(dirname(join(repo.repoDir, file)), { recursive: true });
      await writeFile(join(repo.repoDir, file), bytes);
    }

    const verified = await cli('verify', ...where());
    expect(verified.code).not.toBe(0);
    expect(verified.stderr).toContain(`the entry "resources/passwd" of ${path} is a symlink to "/etc/passwd", outside the folder`);

    const { client } = await repo.client('1.0.0');
    const info = await client.checkForUpdates();
    expect(info?.version).toBe('2.0.0');
    const refused = await rejectionOf(client.downloadUpdate(info!), UpdateError);
    expect(refused.code).toBe('VERIFICATION');
    expect(refused.message).toContain('the archive entry "resources/passwd" is a symlink to "/etc/passwd", outside the folder');
  });
});
