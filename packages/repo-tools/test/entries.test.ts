import { createHash } from 'node:crypto';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Targets } from '@tufjs/models';
import { gunzipToBuffer, listTar, parseEntryList, parseTargetCustom, readPatchHeader, serializeEntryList, type TarEntry } from '@tufup/bundle';
import { signersFor } from '../src/repository.js';
import { stageMetadata, withTransaction } from '../src/store.js';
import {
  addBundle,
  initRepository,
  loadRepository,
  pruneVersions,
  removeVersion,
  repositoryStatus,
  setRollout,
  verifyRepository,
  yankRelease,
  type AddResult,
} from '../src/index.js';
import { codeOf, listFiles, tempRepo } from './helpers/fixtures.js';

async function smallBundle(dir: string, version: string): Promise<string> {
  await mkdir(join(dir, 'resources'), { recursive: true });
  await writeFile(join(dir, 'resources', 'app.js'), `console.log(${JSON.stringify(version)});\n${'// filler line\n'.repeat(1000)}`);
  await writeFile(join(dir, 'version.txt'), version);
  await symlink('resources/app.js', join(dir, 'main.js'));
  return dir;
}

type TargetJson = { length: number; hashes: Record<string, string> };
/** The `custom.tufup` object of a target's JSON, to edit in place. */
const tufupOf = (target: TargetJson): Record<string, unknown> => (target as unknown as { custom: { tufup: Record<string, unknown> } }).custom.tufup;

/** The message of the VERIFY_FAILED that verify rejects with. */
async function verifyFailure(repoDir: string): Promise<string> {
  const error: unknown = await verifyRepository({ repoDir }).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: 'VERIFY_FAILED' });
  return (error as Error).message;
}

// Each version's entry list is its own signed target: what clients whose install folder an installer
// added files to need to rebuild the patch base, fetched only by them.
describe('the entry list target of each version', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repoDir: string;
  let keysDir: string;
  const add = async (version: string, extra: Partial<Parameters<typeof addBundle>[0]> = {}): Promise<AddResult> =>
    addBundle({ repoDir, keysDir, bundleDir: await smallBundle(join(tmp, 'b', version), version), version, platform: 'linux', arch: 'x64', ...extra });
  const targetsJson = async (): Promise<Record<string, TargetJson>> => (await loadRepository(repoDir)).targets.signed.toJSON().targets as Record<string, TargetJson>;

  /** Signs a replacement for a target (its bytes, length and hash), as a publisher's own tool could. */
  const resign = async (path: string, bytes: Buffer, custom?: (c: Record<string, unknown>) => void): Promise<void> => {
    const state = await loadRepository(repoDir);
    const json = state.targets.signed.toJSON();
    const targets = { ...(json.targets as Record<string, TargetJson>) };
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const entry = structuredClone(targets[path]!);
    custom?.(tufupOf(entry));
    targets[path] = { ...entry, length: bytes.length, hashes: { sha256 } };
    const signers = await signersFor({ keysDir }, state, ['targets', 'snapshot', 'timestamp'], 'test');
    await withTransaction({ repoDir }, async (tx) => {
      await tx.put(`targets/${path.replace('/', `/${sha256}.`)}`, bytes);
      await stageMetadata(tx, state, { targets: Targets.fromJSON({ ...json, targets }) }, signers);
    });
  };

  beforeEach(async () => {
    ({ tmp, repoDir, keysDir, cleanup } = await tempRepo());
    await initRepository({ repoDir, keysDir, appName: 'demo' });
  });
  afterEach(() => cleanup());

  it('add publishes <name>-<version>.entries: the archive’s entries, signed for its tar, without the release’s notes or fields', async () => {
    const added = await add('1.0.0', { releaseNotes: 'First', custom: { channel: 'stable' }, required: true });
    expect(added.entries.path).toBe('linux-x64/demo-1.0.0.entries');
    expect(added.entries.file).toBe(`targets/linux-x64/${added.entries.sha256}.demo-1.0.0.entries`);
    const signed = (await targetsJson())[added.entries.path]!;
    expect(signed).toMatchObject({ length: added.entries.size, hashes: { sha256: added.entries.sha256 } });
    const custom = parseTargetCustom({ tufup: tufupOf(signed) }, added.entries.path);
    expect(custom).toEqual({ tufup: { schema: 1, kind: 'entries', name: 'demo', version: '1.0.0', platform: 'linux', arch: 'x64', tar: added.tar, required: true } });
    const bytes = await readFile(join(repoDir, added.entries.file));
    expect(bytes.length).toBe(added.entries.size);
    const archiveTar = await gunzipToBuffer(join(repoDir, added.archive.file));
    expect(parseEntryList(bytes, added.tar, added.entries.path)).toEqual(await listTar(archiveTar));
  });

  it('patches carry no entry list unless asked (entriesInPatch, for clients before the entries target)', async () => {
    await add('1.0.0');
    const lean = await add('1.1.0');
    const { header } = await readPatchHeader(join(repoDir, lean.patch!.file));
    expect(header.baseEntries).toBeUndefined();
    const listed = await add('1.2.0', { entriesInPatch: true });
    const withList = await readPatchHeader(join(repoDir, listed.patch!.file));
    const base = await gunzipToBuffer(join(repoDir, lean.archive.file));
    expect(withList.header.baseEntries).toEqual(await listTar(base));
  });

  it('verify checks each entry list against its archive', async () => {
    await add('1.0.0');
    await add('1.1.0');
    expect(await verifyRepository({ repoDir })).toMatchObject({ targets: 5, patchesApplied: 1, entryListsChecked: 2, warnings: [] });
  });

  it('verify names a signed entry list that does not list its archive’s entries', async () => {
    const first = await add('1.0.0');
    const entries = parseEntryList(await readFile(join(repoDir, first.entries.file)), first.tar, first.entries.path);
    // Same tar size, another mode: a client following it would rebuild another tar and take the full archive.
    const wrong: TarEntry[] = entries.map((e) => (e.path === 'version.txt' ? { ...e, mode: 0o755 } : e));
    await resign(first.entries.path, serializeEntryList(first.tar, wrong));
    expect(await verifyFailure(repoDir)).toContain('linux-x64/demo-1.0.0.entries does not list the entries of the archive of 1.0.0');
  });

  it('verify names an entry list signed for another tar than its archive’s', async () => {
    const first = await add('1.0.0');
    const other = { sha256: 'e'.repeat(64), size: first.tar.size };
    const bytes = serializeEntryList(other, parseEntryList(await readFile(join(repoDir, first.entries.file)), first.tar, 'x'));
    await resign(first.entries.path, bytes, (tufup) => (tufup.tar = other));
    expect(await verifyFailure(repoDir)).toContain('linux-x64/demo-1.0.0.entries is signed for another tar');
  });

  it('verify names an entry list whose bytes are not one', async () => {
    const first = await add('1.0.0');
    await resign(first.entries.path, Buffer.from('not an entry list'));
    expect(await verifyFailure(repoDir)).toContain('linux-x64/demo-1.0.0.entries is not an entry list');
  });

  it('remove and prune drop a version’s entry list with its archive and patch', async () => {
    const v1 = await add('1.0.0');
    const v2 = await add('1.1.0');
    await add('1.2.0');
    const removed = await removeVersion({ repoDir, keysDir, version: '1.1.0' });
    expect(removed.removed[0]?.files.sort()).toEqual([v2.archive.file, v2.entries.file, v2.patch!.file].sort());
    await expect(stat(join(repoDir, v2.entries.file))).rejects.toThrow();
    const pruned = await pruneVersions({ repoDir, keysDir, keep: 1 });
    expect(pruned.removed[0]?.files.sort()).toEqual([v1.archive.file, v1.entries.file].sort());
    expect(Object.keys(await targetsJson()).sort()).toEqual(['linux-x64/demo-1.2.0.entries', 'linux-x64/demo-1.2.0.patch', 'linux-x64/demo-1.2.0.tar.gz']);
    expect((await listFiles(join(repoDir, 'targets'))).filter((f) => f.endsWith('.entries'))).toEqual([expect.stringMatching(/demo-1\.2\.0\.entries$/)]);
    expect(await verifyRepository({ repoDir })).toMatchObject({ entryListsChecked: 1, warnings: [] });
  });

  it('rollout and yank edit the archive only, leaving the entry list as signed', async () => {
    await add('1.0.0');
    const v2 = await add('1.1.0');
    const before = (await targetsJson())[v2.entries.path];
    await setRollout({ repoDir, keysDir, version: '1.1.0', percent: 20 });
    await yankRelease({ repoDir, keysDir, version: '1.1.0', reason: 'crashes' });
    expect((await targetsJson())[v2.entries.path]).toEqual(before);
    expect((await repositoryStatus({ repoDir, keysDir })).platforms[0]?.versions[1]).toMatchObject({ yanked: { reason: 'crashes' }, rollout: 20 });
  });

  it('status lists each entry list, counts it in the sizes and in the targets the metadata holds', async () => {
    const v1 = await add('1.0.0');
    const v2 = await add('1.1.0');
    const status = await repositoryStatus({ repoDir, keysDir });
    expect(status.platforms[0]?.versions.map((v) => v.entries)).toEqual([
      { path: v1.entries.path, size: v1.entries.size },
      { path: v2.entries.path, size: v2.entries.size },
    ]);
    expect(status.totalSize).toBe(v1.archive.size + v1.entries.size + v2.archive.size + v2.entries.size + v2.patch!.size);
    expect(status.targetsMetadata.targets).toBe(5);
  });

  it('a version published before entry lists (archive and patch only) still verifies and updates', async () => {
    await add('1.0.0');
    const v2 = await add('1.1.0');
    // What a repository made by repo-tools before the entries target holds: drop the list from the metadata.
    const state = await loadRepository(repoDir);
    const json = state.targets.signed.toJSON();
    const targets = Object.fromEntries(Object.entries(json.targets as Record<string, TargetJson>).filter(([p]) => !p.endsWith('.entries')));
    const signers = await signersFor({ keysDir }, state, ['targets', 'snapshot', 'timestamp'], 'test');
    await withTransaction({ repoDir }, (tx) => stageMetadata(tx, state, { targets: Targets.fromJSON({ ...json, targets }) }, signers));
    expect(await verifyRepository({ repoDir })).toMatchObject({ targets: 3, entryListsChecked: 0 });
    const v3 = await add('1.2.0');
    expect(v3.patch?.base).toBe('1.1.0');
    const removed = await removeVersion({ repoDir, keysDir, version: '1.1.0' });
    expect(removed.removed[0]?.files.sort()).toEqual([v2.archive.file, v2.patch!.file].sort());
    expect(await codeOf(removeVersion({ repoDir, keysDir, version: '1.1.0' }))).toBe('VERSION_NOT_FOUND');
  });
});
