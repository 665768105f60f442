import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoopbackServer } from '@tufup/testkit';
import { addBundle, initRepository, PHASES, publishRepository, rotateKey, type PublishResult } from '../src/index.js';
import { FieldClient } from './helpers/client.js';
import { CLI, cliOk, codeOf, errorCode, listFiles, NODE, tempDir, writeBundle, type CliRun } from './helpers/fixtures.js';
import { startS3, type LocalS3 } from './helpers/s3.js';

/** The phase of each upload, in upload order, must never go back: targets, metadata, root, timestamp. */
function phasesInOrder(result: PublishResult): boolean {
  const ranks = result.uploaded.map((u) => PHASES.indexOf(u.phase));
  return ranks.every((rank, i) => i === 0 || rank >= (ranks[i - 1] ?? 0));
}

describe('tufup-repo publish', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;
  let step = 0;
  const add = (version: string): ReturnType<typeof addBundle> =>
    writeBundle(join(tmp, `bundle-${version}`), step++).then((bundleDir) => addBundle({ repoDir, keysDir, bundleDir, version, platform: 'linux', arch: 'x64' }));
  const client = (url: string, name: string): Promise<FieldClient> => FieldClient.install(join(tmp, name), url, join(repoDir, 'metadata', '1.root.json'), 'linux', 'x64');

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repoDir = join(tmp, 'repo');
    keysDir = join(tmp, 'keys');
    step = 0;
    await initRepository({ repoDir, keysDir, appName: 'my-app' });
  });
  afterEach(() => cleanup());

  describe('to a folder', () => {
    let site: string;
    let server: LoopbackServer;
    beforeEach(async () => {
      site = join(tmp, 'site');
      server = await new LoopbackServer(site).start();
    });
    afterEach(() => server.close());

    it('uploads in TUF order, skips what is there, and clients served from the folder see each release', async () => {
      await add('1.0.0');
      const first = await publishRepository({ repoDir, to: site });
      expect(phasesInOrder(first)).toBe(true);
      expect(first.uploaded.at(-1)?.key).toBe('metadata/timestamp.json');
      // Every published file is the repository's, byte for byte; the config and the trust file stay home.
      for (const file of await listFiles(site)) expect(await readFile(join(site, file))).toEqual(await readFile(join(repoDir, file)));
      expect((await listFiles(site)).some((f) => f.endsWith('tufup-repo.json') || f.endsWith('tufup.json'))).toBe(false);
      const field = await client(server.url, 'field');
      expect((await field.check()).version).toBe('1.0.0');

      const again = await publishRepository({ repoDir, to: site });
      expect(again.uploaded).toEqual([]);
      expect(again.skipped).toBe(first.uploaded.length);

      await add('1.1.0');
      const second = await publishRepository({ repoDir, to: site });
      const uploaded = second.uploaded.map((u) => `${u.phase} ${u.key.replace(/[0-9a-f]{64}\./, '<sha256>.')}`);
      // Targets go up several at a time, in any order; then the metadata, one by one, in order.
      expect([...uploaded.slice(0, 3)].sort()).toEqual([
        'targets targets/linux-x64/<sha256>.my-app-1.1.0.entries',
        'targets targets/linux-x64/<sha256>.my-app-1.1.0.patch',
        'targets targets/linux-x64/<sha256>.my-app-1.1.0.tar.gz',
      ]);
      expect(uploaded.slice(3)).toEqual([
        'metadata metadata/3.targets.json',
        'metadata metadata/3.snapshot.json',
        'timestamp metadata/timestamp.json',
      ]);
      expect(await field.check()).toMatchObject({ version: '1.1.0', versions: ['1.0.0', '1.1.0'] });
    });

    it('refuses a destination holding other metadata under the same name (PUBLISH_CONFLICT) unless forced', async () => {
      await add('1.0.0');
      await publishRepository({ repoDir, to: site });
      // Another copy of the repository published its own 3rd targets version there.
      await writeFile(join(site, 'metadata', '3.snapshot.json'), '{"not": "ours"}\n');
      await add('1.1.0');
      const timestamp = await readFile(join(site, 'metadata', 'timestamp.json'));
      expect(await codeOf(publishRepository({ repoDir, to: site }))).toBe('PUBLISH_CONFLICT');
      expect(await readFile(join(site, 'metadata', 'timestamp.json'))).toEqual(timestamp);
      const forced = await publishRepository({ repoDir, to: site, force: true });
      expect(forced.uploaded.map((u) => u.key)).toContain('metadata/3.snapshot.json');
      expect(await readFile(join(site, 'metadata', '3.snapshot.json'))).toEqual(await readFile(join(repoDir, 'metadata', '3.snapshot.json')));
    });

    it('never uploads a target whose bytes differ from its signed hash, and leaves the published release as it was', async () => {
      await add('1.0.0');
      await publishRepository({ repoDir, to: site });
      const added = await add('1.1.0');
      const archive = join(repoDir, added.archive.file);
      const bytes = await readFile(archive);
      bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
      await writeFile(archive, bytes);
      const before = await readFile(join(site, 'metadata', 'timestamp.json'));
      expect(await codeOf(publishRepository({ repoDir, to: site }))).toBe('VERIFY_FAILED');
      expect(await readFile(join(site, 'metadata', 'timestamp.json'))).toEqual(before);
      expect(await listFiles(join(site, 'targets'))).not.toContain(added.archive.file.replace('targets/', ''));
      expect((await listFiles(site)).filter((f) => f.includes('tufup-partial'))).toEqual([]);
      expect((await (await client(server.url, 'field')).check()).version).toBe('1.0.0');
    });
  });

  describe('to an S3-compatible store (s3rver on 127.0.0.1)', () => {
    let s3: LocalS3;
    const to = (): string => `s3://${s3.bucket}/apps/my-app`;
    const publishCli = (...extra: string[]): Promise<CliRun> =>
      cliOk(['publish', '--repo', repoDir, '--to', to(), '--endpoint', s3.endpoint, '--path-style', ...extra], { env: s3.env });
    beforeEach(async () => {
      s3 = await startS3(tmp);
    });
    afterEach(() => s3.close());

    it('sets cache headers and content types, follows a root rotation, and skips what is there', async () => {
      await add('1.0.0');
      const first = JSON.parse((await publishCli('--json')).stdout) as PublishResult;
      expect(phasesInOrder(first)).toBe(true);
      const base = s3.urlOf('apps/my-app');
      const headers = async (key: string): Promise<[number, string | null, string | null]> => {
        const res = await fetch(`${base}/${key}`);
        await res.arrayBuffer();
        return [res.status, res.headers.get('cache-control'), res.headers.get('content-type')];
      };
      const target = first.uploaded.find((u) => u.key.endsWith('.tar.gz'))?.key ?? '';
      expect(await headers(target)).toEqual([200, 'public, max-age=31536000, immutable', 'application/gzip']);
      expect(await headers('metadata/2.targets.json')).toEqual([200, 'public, max-age=31536000, immutable', 'application/json']);
      expect(await headers('metadata/1.root.json')).toEqual([200, 'public, max-age=31536000, immutable', 'application/json']);
      expect(await headers('metadata/timestamp.json')).toEqual([200, 'public, max-age=60', 'application/json']);
      expect(await headers('metadata/root.json')).toEqual([200, 'public, max-age=60', 'application/json']);
      expect((await fetch(`${base}/${target}`, { method: 'HEAD' })).headers.get('x-amz-meta-sha256')).toBe(/([0-9a-f]{64})\./.exec(target)?.[1]);
      const field = await client(base, 'field');
      expect((await field.check()).version).toBe('1.0.0');

      // A new root (root key rotated), then a release: the chain goes up before the timestamp that needs it.
      await rotateKey({ repoDir, keysDir, role: 'root' });
      await add('1.1.0');
      const second = JSON.parse((await publishCli('--json', '--max-age', '30')).stdout) as PublishResult;
      expect(second.uploaded.map((u) => u.key).slice(-4)).toEqual(['metadata/3.snapshot.json', 'metadata/2.root.json', 'metadata/root.json', 'metadata/timestamp.json']);
      expect(await headers('metadata/timestamp.json')).toEqual([200, 'public, max-age=30', 'application/json']);
      expect(await field.check()).toMatchObject({ version: '1.1.0', rootVersion: 2 });
      const third = await publishCli();
      expect(third.stdout).toMatch(/: 0 file\(s\), 0 B uploaded, \d+ already there/);
    });

    it('names what is wrong: no SDK installed (MISSING_DEPENDENCY), a store that cannot be reached (PUBLISH_FAILED), an unknown scheme (USAGE)', async () => {
      await add('1.0.0');
      // Node resolves @aws-sdk/client-s3 as it would in a project that never installed it.
      const hook = `export async function resolve(specifier, context, next) {
        if (specifier === '@aws-sdk/client-s3') throw Object.assign(new Error("Cannot find package '@aws-sdk/client-s3' imported from " + context.parentURL), { code: 'ERR_MODULE_NOT_FOUND' });
        return next(specifier, context);
      }`;
      const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
      const noSdk = await new Promise<CliRun>((resolvePromise) => {
        execFile(
          NODE,
          ['--import', `data:text/javascript,${encodeURIComponent(register)}`, CLI, 'publish', '--repo', repoDir, '--to', to(), '--endpoint', s3.endpoint],
          { env: { PATH: process.env.PATH, ...s3.env } },
          (error, stdout, stderr) => resolvePromise({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr }),
        );
      });
      expect(noSdk.code).toBe(1);
      expect(errorCode(noSdk)).toBe('MISSING_DEPENDENCY');
      expect(noSdk.stderr).toContain('npm install --save-dev @aws-sdk/client-s3');

      const closed = await startS3(join(tmp, 'gone'));
      await closed.close();
      expect(
        await codeOf(publishRepository({ repoDir, to: to(), s3: { endpoint: closed.endpoint, pathStyle: true, credentials: s3.credentials } })),
      ).toBe('PUBLISH_FAILED');
      expect(await codeOf(publishRepository({ repoDir, to: 'https://updates.example.com/my-app' }))).toBe('USAGE');
      expect(await codeOf(publishRepository({ repoDir, to: 's3:///my-app' }))).toBe('USAGE');
    });
  });
});
