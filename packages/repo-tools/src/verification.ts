import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Metadata, MetadataKind } from '@tufjs/models';
import {
  applyPatch,
  gunzipFile,
  gunzipToBuffer,
  listTar,
  messageOf,
  parseEntryList,
  parseTargetCustom,
  parseTargetPath,
  parseTrustFile,
  readPatchHeader,
  sameDigest,
  useLinearTargetsCodec,
  validateTar,
  verifiedTargetsOf,
  type Digest,
  type TarEntry,
  type TargetCustom,
} from '@tufup/bundle';
import type { TargetFile } from '@tufjs/models';
import { BaseFetcher, Updater } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { METADATA_DIR, readConfig, TARGETS_DIR, type Logger } from './config.js';
import { RepoError } from './error.js';
import { targetFile } from './release.js';
import type { JSONObject } from './metadata.js';

/** Serves `file:` URLs to tuf-js, answering a missing file the way a static web server would (404). */
class FileFetcher extends BaseFetcher {
  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const path = fileURLToPath(url);
    try {
      await stat(path);
    } catch {
      throw new DownloadHTTPError(`${path} not found`, 404);
    }
    return Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array<ArrayBuffer>>;
  }
}

function fail(message: string, cause?: unknown): never {
  throw new RepoError('VERIFY_FAILED', message, cause === undefined ? undefined : { cause });
}

/** Options of {@link verifyRepository}. */
export interface VerifyOptions {
  repoDir: string;
  /**
   * The root a client ships with: a root.json, or the trust file (`tufup.json`, what `tufup-repo trust`
   * writes and apps ship), whose app name must then be the repository's. The chain of `N.root.json` is
   * followed from it. @default metadata/1.root.json
   */
  trustedRoot?: string;
  /** Apply every patch whose base archive is present and check the tar it produces. @default true */
  applyPatches?: boolean;
  logger?: Logger;
}

/** What {@link verifyRepository} checked. */
export interface VerifyResult {
  rootVersion: number;
  targetsVersion: number;
  /** Target files downloaded and checked. */
  targets: number;
  /** Patches applied to their base and checked against the signed tar digest. */
  patchesApplied: number;
  /** Entry list targets checked against the entries of their version's archive. */
  entryListsChecked: number;
  bytes: number;
  /** Files in targets/ that no metadata names (left over, safe to delete). */
  warnings: string[];
}

/**
 * Checks the repository as a client would, with tuf-js: from the trusted root along the root chain,
 * timestamp, snapshot and targets, then every target's length and hash; then tufup's own claims (the
 * tar inside each archive, the base and result of each patch, each entry list against its archive's
 * entries). VERIFY_FAILED names what is wrong.
 */
export async function verifyRepository(options: VerifyOptions): Promise<VerifyResult> {
  const { repoDir } = options;
  const config = await readConfig(repoDir);
  const work = await mkdtemp(join(tmpdir(), 'tufup-verify-'));
  try {
    const metadataDir = join(work, 'metadata');
    const downloads = join(work, 'targets');
    await mkdir(metadataDir);
    await mkdir(downloads);
    const trusted = options.trustedRoot ?? join(repoDir, METADATA_DIR, '1.root.json');
    await writeFile(join(metadataDir, 'root.json'), await trustedRootOf(trusted, config.appName));
    // Before tuf-js parses the targets metadata: its own map conversion is quadratic in the number of targets.
    useLinearTargetsCodec();
    const updater = new Updater({
      metadataDir,
      metadataBaseUrl: pathToFileURL(join(repoDir, METADATA_DIR)).href,
      targetDir: downloads,
      targetBaseUrl: pathToFileURL(join(repoDir, TARGETS_DIR)).href,
      fetcher: new FileFetcher(),
    });
    await updater.refresh().catch((e: unknown) => fail(`the metadata does not verify: ${messageOf(e)}`, e));
    const rootJson = await readFile(join(metadataDir, 'root.json'));
    const published = await readFile(join(repoDir, METADATA_DIR, 'root.json')).catch(() => Buffer.alloc(0));
    if (!rootJson.equals(published)) fail('metadata/root.json is not the newest root of the chain N.root.json');
    const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(rootJson.toString('utf8')) as JSONObject);
    const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(await readFile(join(metadataDir, 'targets.json'), 'utf8')) as JSONObject);
    // Every target as tuf-js verified it in refresh(), read once: getTargetInfo per path would verify the
    // signatures over the whole targets metadata again for each target (quadratic). The slow way remains
    // for a tuf-js that keeps them elsewhere.
    const verified = await verifiedTargetsOf(updater);
    const infoOf = (path: string): Promise<TargetFile | undefined> => (verified === undefined ? updater.getTargetInfo(path) : Promise.resolve(verified[path]));

    const local = new Map<string, { file: string; custom: TargetCustom }>();
    /** The downloaded archives by build and version: the base a patch applies to, found in one step. */
    const archives = new Map<string, { file: string; tar: Digest }>();
    let bytes = 0;
    const referenced = new Set<string>();
    for (const path of Object.keys(verified ?? targets.signed.targets).sort()) {
      const info = await infoOf(path);
      if (info === undefined) fail(`target ${path} cannot be resolved`);
      const custom = checkCustom(path, info.custom, config.appName);
      const out = join(downloads, path.replace('/', '_'));
      await updater.downloadTarget(info, out).catch((e: unknown) => fail(`target ${path} does not verify: ${messageOf(e)}`, e));
      referenced.add(targetFile(path, info.hashes.sha256 ?? ''));
      bytes += info.length;
      local.set(path, { file: out, custom });
      const t = custom.tufup;
      if (t.kind === 'archive') archives.set(buildVersion(t.platform, t.arch, t.version), { file: out, tar: t.tar });
      options.logger?.info(`verified ${path}`);
    }

    let patchesApplied = 0;
    // The entries of each archive's tar, by build and version, to check entry lists against.
    const archiveEntries = new Map<string, TarEntry[]>();
    for (const [path, { file, custom }] of local) {
      const t = custom.tufup;
      if (t.kind === 'entries') continue;
      if (t.kind === 'archive') {
        const tar = await gunzipFile(file, `${file}.tar`).catch((e: unknown) => fail(`${path} is not a gzip archive`, e));
        if (!sameDigest(tar, t.tar)) fail(`${path} does not hold the tar its metadata records`);
        // What every client checks when it extracts: a release they would all refuse fails here.
        await validateTar(createReadStream(`${file}.tar`), path).catch((e: unknown) => fail(messageOf(e), e));
        archiveEntries.set(buildVersion(t.platform, t.arch, t.version), await listTar(createReadStream(`${file}.tar`)).catch((e: unknown) => fail(`${path} holds a tar that cannot be listed`, e)));
        await rm(`${file}.tar`, { force: true });
        continue;
      }
      const { header } = await readPatchHeader(file).catch((e: unknown) => fail(`${path} is not a tufup patch`, e));
      if (t.base === undefined || !sameDigest(header.base, t.base) || !sameDigest(header.target, t.tar)) {
        fail(`the header of ${path} disagrees with its signed base or result`);
      }
      const baseArchive = archives.get(buildVersion(t.platform, t.arch, t.base.version));
      if (options.applyPatches !== false && baseArchive !== undefined) {
        const base = await gunzipToBuffer(baseArchive.file).catch((e: unknown) => fail(`${path} applies to an archive that is not gzip`, e));
        await applyPatch({ patchPath: file, base, outPath: `${file}.tar`, expected: t.tar }).catch((e: unknown) => fail(`${path} does not produce its signed tar`, e));
        await rm(`${file}.tar`, { force: true });
        patchesApplied++;
      }
    }
    // A client uses an entry list only to rebuild its archive's tar from an install folder: it must list
    // exactly that archive's entries, in its order, or those clients take the full archive.
    let entryListsChecked = 0;
    for (const [path, { file, custom }] of local) {
      const t = custom.tufup;
      if (t.kind !== 'entries') continue;
      const key = buildVersion(t.platform, t.arch, t.version);
      const archive = archiveEntries.get(key);
      const archiveTar = archives.get(key)?.tar;
      if (archive === undefined || archiveTar === undefined) fail(`${path} lists the entries of ${t.version} for ${t.platform}-${t.arch}, which has no archive`);
      if (!sameDigest(t.tar, archiveTar)) fail(`${path} is signed for another tar than the archive of ${t.version}`);
      let listed: TarEntry[];
      try {
        listed = parseEntryList(await readFile(file), t.tar, path);
      } catch (e) {
        fail(messageOf(e), e);
      }
      if (!sameEntries(listed, archive)) fail(`${path} does not list the entries of the archive of ${t.version}: clients whose install folder holds other files would not rebuild its tar`);
      entryListsChecked++;
    }
    const warnings: string[] = [];
    for (const file of await listFiles(join(repoDir, TARGETS_DIR))) {
      const rel = `${TARGETS_DIR}/${file}`;
      if (!referenced.has(rel)) warnings.push(`${rel} is not named by the current targets metadata`);
    }
    return { rootVersion: root.signed.version, targetsVersion: targets.signed.version, targets: local.size, patchesApplied, entryListsChecked, bytes, warnings };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Whether two entry lists name the same entries, in the same order, with the same types, modes, sizes and link targets. */
function sameEntries(a: readonly TarEntry[], b: readonly TarEntry[]): boolean {
  return a.length === b.length && a.every((e, i) => {
    const o = b[i];
    return o !== undefined && e.path === o.path && e.type === o.type && e.mode === o.mode && e.size === o.size && (e.linkname ?? '') === (o.linkname ?? '');
  });
}

const buildVersion = (platform: string, arch: string, version: string): string => `${platform}-${arch} ${version}`;

/**
 * The root.json to start the chain from: the file itself, or the root inside a trust file (`tufup.json`),
 * which must be this repository's app's. Its signatures are tuf-js's to check.
 */
async function trustedRootOf(file: string, appName: string): Promise<Uint8Array> {
  const bytes = await readFile(file).catch((e: unknown) => fail(`cannot read the trusted root ${file}`, e));
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    fail(`the trusted root ${file} is not JSON`, e);
  }
  const isRoot = typeof data === 'object' && data !== null && 'signed' in data && !('schema' in data);
  if (isRoot) return bytes;
  let trust: ReturnType<typeof parseTrustFile>;
  try {
    trust = parseTrustFile(bytes, file);
  } catch (e) {
    fail(`${messageOf(e)} (--trusted-root takes a root.json or a trust file)`, e);
  }
  if (trust.appName !== appName) fail(`the trust file ${file} is for the app ${trust.appName}, not ${appName}`);
  return trust.root;
}

/** The target's custom metadata, checked to describe the very file its path names. */
function checkCustom(path: string, raw: unknown, appName: string): TargetCustom {
  let custom: TargetCustom;
  let id: ReturnType<typeof parseTargetPath>;
  try {
    id = parseTargetPath(path);
    custom = parseTargetCustom(raw, path);
  } catch (e) {
    fail(`target ${path}: ${messageOf(e)}`, e);
  }
  const t = custom.tufup;
  if (t.name !== id.name || t.version !== id.version || t.kind !== id.kind || t.platform !== id.platform || t.arch !== id.arch) {
    fail(`the custom metadata of ${path} describes another file`);
  }
  if (t.name !== appName) fail(`${path} belongs to ${t.name}, not ${appName}`);
  return custom;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory()) files.push(...(await listFiles(join(dir, entry.name), `${rel}/`)));
    else files.push(rel);
  }
  return files;
}
