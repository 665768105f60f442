import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Metadata, MetadataKind } from '@tufjs/models';
import { applyPatch, compareVersions, gunzipFile, gunzipToBuffer, parseTargetCustom, sameDigest, type TargetCustom } from '@tufup/bundle';
import { Updater } from 'tuf-js';

type JSONObject = Parameters<typeof Metadata.fromJSON>[1];

/** What a client found and verified for its platform/arch. */
export interface ClientCheck {
  /** Newest version offered to this platform/arch. */
  version: string;
  /** Every version of this platform/arch the signed targets list. */
  versions: string[];
  /** Version of the root the client trusts after the refresh. */
  rootVersion: number;
  archive: TargetCustom;
  patch?: TargetCustom;
}

/**
 * A TUF client in the field: its own metadata folder seeded once with a trusted root, then, on each
 * check, a fresh tuf-js Updater (one per refresh) against the repository served over HTTP. It downloads
 * the newest archive and patch of its platform/arch, checks the tar inside the archive and applies the
 * patch to the previous version's tar, comparing both with the signed digests.
 */
export class FieldClient {
  private checks = 0;

  constructor(
    private readonly dir: string,
    private readonly baseUrl: string,
    readonly platform: string,
    readonly arch: string,
  ) {}

  static async install(dir: string, baseUrl: string, trustedRoot: string, platform: string, arch: string): Promise<FieldClient> {
    await mkdir(join(dir, 'metadata'), { recursive: true });
    await copyFile(trustedRoot, join(dir, 'metadata', 'root.json'));
    return new FieldClient(dir, baseUrl, platform, arch);
  }

  async check(): Promise<ClientCheck> {
    const targetDir = join(this.dir, `download-${++this.checks}`);
    await mkdir(targetDir);
    const updater = new Updater({
      metadataDir: join(this.dir, 'metadata'),
      metadataBaseUrl: `${this.baseUrl}/metadata/`,
      targetDir,
      targetBaseUrl: `${this.baseUrl}/targets/`,
    });
    await updater.refresh();
    const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse(await readFile(join(this.dir, 'metadata', 'root.json'), 'utf8')) as JSONObject);
    const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(await readFile(join(this.dir, 'metadata', 'targets.json'), 'utf8')) as JSONObject);
    const prefix = `${this.platform}-${this.arch}/`;
    const mine = Object.entries(targets.signed.targets)
      .filter(([path]) => path.startsWith(prefix))
      .map(([path, info]) => ({ path, custom: parseTargetCustom(info.custom, path) }));
    const versions = [...new Set(mine.map((t) => t.custom.tufup.version))].sort(compareVersions);
    const version = versions.at(-1);
    if (version === undefined) throw new Error(`no versions for ${prefix}`);
    const archive = await this.download(updater, targetDir, mine, version, 'archive');
    if (archive === undefined) throw new Error(`no archive of ${version}`);
    const tar = await gunzipFile(archive.file, `${archive.file}.tar`);
    if (!sameDigest(tar, archive.custom.tufup.tar)) throw new Error(`archive of ${version} holds another tar`);
    const patch = await this.download(updater, targetDir, mine, version, 'patch');
    const result: ClientCheck = { version, versions, rootVersion: root.signed.version, archive: archive.custom };
    if (patch !== undefined) {
      const baseVersion = patch.custom.tufup.base?.version ?? '';
      const base = await this.download(updater, targetDir, mine, baseVersion, 'archive');
      if (base === undefined) throw new Error(`the patch's base ${baseVersion} is not in the repository`);
      await applyPatch({ patchPath: patch.file, base: await gunzipToBuffer(base.file), outPath: join(targetDir, 'patched.tar'), expected: archive.custom.tufup.tar });
      result.patch = patch.custom;
    }
    return result;
  }

  private async download(
    updater: Updater,
    targetDir: string,
    mine: { path: string; custom: TargetCustom }[],
    version: string,
    kind: 'archive' | 'patch',
  ): Promise<{ file: string; custom: TargetCustom } | undefined> {
    const entry = mine.find((t) => t.custom.tufup.version === version && t.custom.tufup.kind === kind);
    if (entry === undefined) return undefined;
    const info = await updater.getTargetInfo(entry.path);
    if (info === undefined) throw new Error(`${entry.path} cannot be resolved`);
    const file = join(targetDir, `${version}.${kind}`);
    await updater.downloadTarget(info, file);
    return { file, custom: parseTargetCustom(info.custom, entry.path) };
  }
}
