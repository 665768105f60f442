import { createHash } from 'node:crypto';
import { Metadata, MetaFile, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import {
  findSigners,
  formatExpires,
  generateKey,
  KeyObjectSigner,
  loadRepository,
  signMetadata,
  type RepoState,
  type RoleName,
  type Signer,
} from '@tufup/repo-tools';

/** The JSON object type the @tufjs/models parsers take and `toJSON` returns. */
export type SignedJson = Parameters<typeof Root.fromJSON>[0];

/** How to forge one role's next metadata version. */
export interface RoleForgery {
  /** Changes the signed part (its version and expiry are already set). */
  edit?: (signed: SignedJson) => void;
  /** Who signs it. @default the role's real keys (a stolen key, or a publisher's mistake) */
  signers?: readonly Signer[];
  /** @default in 7 days */
  expires?: Date;
}

/** Which roles to forge; snapshot and timestamp follow a forged targets, timestamp follows a forged snapshot. */
export interface Forgery {
  root?: RoleForgery;
  targets?: RoleForgery;
  snapshot?: RoleForgery;
  timestamp?: RoleForgery;
}

const DAY_MS = 86_400_000;

/** A key the attacker owns; no root lists it. */
export function attackerKey(): Signer {
  return new KeyObjectSigner(generateKey());
}

/** sha256 hex of some bytes. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The repository path of a target under consistent snapshots: `targets/<dir>/<sha256>.<name>`. */
export function targetFilePath(targetPath: string, data: Uint8Array): string {
  const slash = targetPath.lastIndexOf('/');
  return `targets/${targetPath.slice(0, slash + 1)}${sha256(data)}.${targetPath.slice(slash + 1)}`;
}

/** The bytes a server would serve for signed metadata. */
export function serialize(metadata: Metadata<Root | Targets | Snapshot | Timestamp>): Buffer {
  return Buffer.from(JSON.stringify(metadata.toJSON()));
}

/**
 * Builds the metadata an attacker (or a broken publisher) would serve, on top of a real repository: the
 * next versions of the roles asked for, consistently chained (targets -> snapshot -> timestamp, with
 * lengths and hashes), signed by whichever keys the test says. Nothing is written: the result is a map
 * of server paths to bytes, for {@link LoopbackServer.replace}.
 */
export class Forge {
  private constructor(
    readonly state: RepoState,
    private readonly keysDir: string,
  ) {}

  static async open(repoDir: string, keysDir: string): Promise<Forge> {
    return new Forge(await loadRepository(repoDir), keysDir);
  }

  /** The publisher's own keys of a role, read from the keys folder. */
  async realSigners(role: RoleName): Promise<Signer[]> {
    const keyids = this.state.root.signed.roles[role]?.keyIDs ?? [];
    return findSigners({ keysDir: this.keysDir }, role, keyids);
  }

  async forge(forgery: Forgery): Promise<Map<string, Buffer>> {
    const files = new Map<string, Buffer>();
    const { state } = this;
    const next = async (role: RoleName, current: Root | Targets | Snapshot | Timestamp, how: RoleForgery, chain?: (json: SignedJson) => void) => {
      const json = current.toJSON();
      json.version = current.version + 1;
      json.expires = formatExpires(how.expires ?? new Date(Date.now() + 7 * DAY_MS));
      chain?.(json);
      how.edit?.(json);
      const signed = parse(role, json);
      return signMetadata(new Metadata(signed), how.signers ?? (await this.realSigners(role)));
    };

    if (forgery.root !== undefined) {
      const root = await next('root', state.root.signed, forgery.root);
      const bytes = serialize(root);
      files.set(`metadata/${root.signed.version}.root.json`, bytes);
      files.set('metadata/root.json', bytes);
    }
    let targetsMeta: MetaFile | undefined;
    if (forgery.targets !== undefined) {
      const targets = await next('targets', state.targets.signed, forgery.targets);
      const bytes = serialize(targets);
      files.set(`metadata/${targets.signed.version}.targets.json`, bytes);
      targetsMeta = metaFile(targets.signed.version, bytes);
    }
    let snapshotMeta: MetaFile | undefined;
    if (forgery.snapshot !== undefined || targetsMeta !== undefined) {
      const snapshot = await next('snapshot', state.snapshot.signed, forgery.snapshot ?? {}, (json) => {
        if (targetsMeta !== undefined) json.meta = { 'targets.json': targetsMeta.toJSON() };
      });
      const bytes = serialize(snapshot);
      files.set(`metadata/${snapshot.signed.version}.snapshot.json`, bytes);
      snapshotMeta = metaFile(snapshot.signed.version, bytes);
    }
    if (forgery.timestamp !== undefined || snapshotMeta !== undefined) {
      const timestamp = await next('timestamp', state.timestamp.signed, forgery.timestamp ?? {}, (json) => {
        if (snapshotMeta !== undefined) json.meta = { 'snapshot.json': snapshotMeta.toJSON() };
      });
      files.set('metadata/timestamp.json', serialize(timestamp));
    }
    return files;
  }
}

/** The snapshot/timestamp entry of a metadata file's bytes. */
export function metaFile(version: number, bytes: Buffer): MetaFile {
  return new MetaFile({ version, length: bytes.length, hashes: { sha256: sha256(bytes) } });
}

function parse(role: RoleName, json: SignedJson): Root | Targets | Snapshot | Timestamp {
  switch (role) {
    case 'root':
      return Root.fromJSON(json);
    case 'targets':
      return Targets.fromJSON(json);
    case 'snapshot':
      return Snapshot.fromJSON(json);
    case 'timestamp':
      return Timestamp.fromJSON(json);
  }
}

/** Adds (or replaces) a target entry in a targets JSON being forged. */
export function putTarget(targets: SignedJson, path: string, data: Uint8Array, custom: unknown): void {
  const entries = { ...(targets.targets as SignedJson) };
  entries[path] = { length: data.length, hashes: { sha256: sha256(data) }, custom } as SignedJson;
  targets.targets = entries;
}
