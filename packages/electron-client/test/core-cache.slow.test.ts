import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateClient, UpdateError, type CoreOptions } from '@tufup/electron-client/core';
import { codeOf, readTree } from '@tufup/testkit';
import { TestRepo } from '@tufup/testkit/repo';

const ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
type Role = (typeof ROLES)[number];

/** Ways a cached metadata file goes bad: a crash mid-write, a full disk, a stray edit. */
const DAMAGE: Record<string, (bytes: Buffer, other: Buffer) => Buffer> = {
  'cut in half': (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)),
  empty: () => Buffer.alloc(0),
  "another role's file": (_bytes, other) => other,
  'a signature altered': (bytes) => {
    const json = JSON.parse(bytes.toString('utf8')) as { signatures: { sig: string }[] };
    const first = json.signatures[0]!;
    first.sig = `${first.sig[0] === '0' ? '1' : '0'}${first.sig.slice(1)}`;
    return Buffer.from(JSON.stringify(json));
  },
};

describe('the metadata cache', () => {
  let fixture: TestRepo;

  beforeAll(async () => (fixture = await TestRepo.published(['1.0.0', '1.1.0'])));
  afterAll(() => fixture.cleanup());

  /** A client on 1.0.0 that has checked once, so every role is cached. */
  async function checkedClient(): Promise<CoreOptions> {
    const { client, options } = await fixture.client('1.0.0');
    expect((await client.checkForUpdates())?.version).toBe('1.1.0');
    return options;
  }

  /** The current metadata of `role` as the repository serves it (consistent snapshots: by version). */
  async function served(role: Role): Promise<Buffer> {
    const file = (name: string): Promise<Buffer> => readFile(join(fixture.repoDir, 'metadata', name));
    const meta = async (name: string, of: string): Promise<number> =>
      (JSON.parse((await file(name)).toString('utf8')) as { signed: { meta: Record<string, { version: number }> } }).signed.meta[of]!.version;
    switch (role) {
      case 'root':
      case 'timestamp':
        return file(`${role}.json`);
      case 'snapshot':
        return file(`${await meta('timestamp.json', 'snapshot.json')}.snapshot.json`);
      case 'targets':
        return file(`${await meta(`${await meta('timestamp.json', 'snapshot.json')}.snapshot.json`, 'targets.json')}.targets.json`);
    }
  }

  function cached(options: CoreOptions, role: Role): string {
    return join(options.cacheDir, 'metadata', `${role}.json`);
  }

  for (const role of ROLES) {
    for (const [damage, harm] of Object.entries(DAMAGE)) {
      it(`recovers from a cached ${role}.json ${damage}`, async () => {
        const options = await checkedClient();
        const other = await readFile(cached(options, role === 'timestamp' ? 'snapshot' : 'timestamp'));
        await writeFile(cached(options, role), harm(await readFile(cached(options, role)), other));
        const client = new UpdateClient(options);
        const info = await client.checkForUpdates();
        expect(info?.version).toBe('1.1.0');
        // The damaged file was replaced by the verified metadata (for root: the shipped root, seeded again).
        expect(await readFile(cached(options, role))).toEqual(await served(role));
        const staged = await client.downloadUpdate(info!);
        expect(await readTree(staged.stagedDir)).toEqual(await readTree(fixture.bundleDir('1.1.0')));
      });
    }
  }

  for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
    it(`reports DISK, not VERIFICATION, when the verified ${role}.json cannot be saved, and recovers once it can`, async () => {
      const options = await checkedClient();
      // A folder where the file goes: tuf-js cannot read the cached copy, downloads and verifies the
      // metadata again, and then fails to write it.
      await rm(cached(options, role));
      await mkdir(join(cached(options, role), 'in-the-way'), { recursive: true });
      expect(await codeOf(new UpdateClient(options).checkForUpdates(), UpdateError)).toBe('DISK');
      await rm(cached(options, role), { recursive: true });
      expect((await new UpdateClient(options).checkForUpdates())?.version).toBe('1.1.0');
    });
  }
});
