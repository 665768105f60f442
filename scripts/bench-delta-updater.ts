/**
 * What electron-updater downloads today for an update: its real differential download, i.e. the
 * blockmaps electron-builder writes (app-builder-lib's `buildBlockMap`) and the plan electron-updater
 * makes from them (`computeOperations`), over the packages electron-builder makes:
 *
 * - the NSIS target's app package: a 7z made by app-builder-lib's own `archive()` with the options its
 *   NSIS target uses for differential updates (`configureDifferentialAwareArchiveOptions`: 1 MB LZMA
 *   dictionary, not solid, BCJ filter), with 7-Zip (`ELECTRON_BUILDER_7ZIP_PATH`, default /usr/bin/7zz);
 * - an AppImage-style squashfs made with the mksquashfs options of app-builder-lib's AppImage target
 *   (gzip, no fragments, all root; without the 190 KB runtime stub, which never changes).
 *
 * The bytes a user downloads are the ranges the plan marks DOWNLOAD plus both blockmaps (electron-updater
 * fetches the old and the new one, gzip-compressed, before planning).
 */
import { execFile } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

interface BlockMap {
  version: string;
  files: { name: string; offset: number; checksums: string[]; sizes: number[] }[];
}
interface Operation {
  kind: number;
  start: number;
  end: number;
}

// Deep imports of CommonJS modules that the packages do not export by name: the very functions
// electron-builder and electron-updater run.
const { archive } = require('app-builder-lib/out/targets/archive.js') as {
  archive: (format: string, outFile: string, dir: string, options: Record<string, unknown>) => Promise<string>;
};
const { configureDifferentialAwareArchiveOptions } = require('app-builder-lib/out/targets/differentialUpdateInfoBuilder.js') as {
  configureDifferentialAwareArchiveOptions: (options: Record<string, unknown>) => Record<string, unknown>;
};
const { buildBlockMap } = require('app-builder-lib/out/targets/blockmap/blockmap.js') as {
  buildBlockMap: (file: string, format: 'gzip' | 'deflate', outFile?: string) => Promise<unknown>;
};
const { computeOperations, OperationKind } = require('electron-updater/out/differentialDownloader/downloadPlanBuilder.js') as {
  computeOperations: (oldMap: BlockMap, newMap: BlockMap, logger: { info: () => void; warn: () => void; debug?: () => void }) => Operation[];
  OperationKind: { DOWNLOAD: number };
};

/** One package format's differential download of an update. */
export interface UpdaterDownload {
  format: string;
  /** The new package, whole: what a user downloads without a differential update. */
  packageSize: number;
  /** Ranges of the new package electron-updater downloads. */
  rangeBytes: number;
  /** The old and new gzip blockmaps it downloads first. */
  blockmapBytes: number;
  total: number;
}

async function blockMapOf(file: string): Promise<{ map: BlockMap; size: number }> {
  const out = `${file}.blockmap`;
  await buildBlockMap(file, 'gzip', out);
  const bytes = await readFile(out);
  return { map: JSON.parse(gunzipSync(bytes).toString('utf8')) as BlockMap, size: bytes.length };
}

async function nsis7z(dir: string, out: string): Promise<void> {
  process.env.ELECTRON_BUILDER_7ZIP_PATH ??= '/usr/bin/7zz';
  // As NsisTarget.buildAppPackage passes them for a differential-aware build.
  const options = configureDifferentialAwareArchiveOptions({ withoutDir: true, compression: 'normal', installTimeDecodable: true, excluded: null, storedPaths: null });
  await rm(out, { force: true });
  await archive('7z', out, dir, options);
}

async function squashfs(dir: string, out: string): Promise<void> {
  await rm(out, { force: true });
  await run('mksquashfs', [dir, out, '-all-root', '-noappend', '-no-progress', '-quiet', '-no-xattrs', '-no-fragments']);
}

const silent = { info: (): void => undefined, warn: (): void => undefined, debug: (): void => undefined };

async function download(format: string, make: (dir: string, out: string) => Promise<void>, oldDir: string, newDir: string, work: string): Promise<UpdaterDownload> {
  const oldFile = join(work, `old.${format}`);
  const newFile = join(work, `new.${format}`);
  await make(oldDir, oldFile);
  await make(newDir, newFile);
  const older = await blockMapOf(oldFile);
  const newer = await blockMapOf(newFile);
  const operations = computeOperations(older.map, newer.map, silent);
  const rangeBytes = operations.filter((op) => op.kind === OperationKind.DOWNLOAD).reduce((sum, op) => sum + op.end - op.start, 0);
  const blockmapBytes = older.size + newer.size;
  return { format, packageSize: (await stat(newFile)).size, rangeBytes, blockmapBytes, total: rangeBytes + blockmapBytes };
}

/** electron-updater's download for `oldDir` -> `newDir` as an NSIS 7z and as an AppImage squashfs. */
export async function updaterDownloads(oldDir: string, newDir: string, work: string): Promise<UpdaterDownload[]> {
  return [await download('nsis.7z', nsis7z, oldDir, newDir, work), await download('squashfs', squashfs, oldDir, newDir, work)];
}
