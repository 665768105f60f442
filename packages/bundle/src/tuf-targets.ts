import { Metadata, TargetFile, Targets } from '@tufjs/models';

type TargetsJson = Parameters<typeof Targets.fromJSON>[0];
type JsonValue = TargetsJson[string];

const INSTALLED = Symbol.for('tufup.linearTargetsCodec');

/**
 * Makes @tufjs/models read and write a targets role's map of files in one pass.
 *
 * @tufjs/models 5 converts that map with `reduce((acc, [path, file]) => ({ ...acc, [path]: ... }), {})`
 * in both directions: `Targets.fromJSON` (every targets file tuf-js loads) and `Targets.toJSON` (every
 * signature check canonicalizes it). Each step copies every entry before it, so n targets cost n²/2
 * copies: 9 s per verification at 3,000 targets on a 2-core machine, where everything else of a check
 * takes well under a second. This wraps both with the same conversion done once per entry: the
 * original still parses and writes every other field (so a field a later release adds is kept), and
 * each entry is still `TargetFile.fromJSON(path, json)` / `file.toJSON()`, so the objects, and the
 * canonical JSON signatures are checked over, are the ones the original builds (a test compares them).
 * Idempotent and process-wide (tuf-js and repo-tools resolve the same class); both the client and the
 * publisher call it before reading metadata. Harmless once upstream fixes it.
 */
export function useLinearTargetsCodec(): void {
  const holder = Targets as unknown as Record<symbol, boolean>;
  if (holder[INSTALLED] === true) return;
  holder[INSTALLED] = true;

  const fromJSON = Targets.fromJSON.bind(Targets);
  Targets.fromJSON = (data: TargetsJson): Targets => {
    const { targets, ...rest } = data;
    // Anything but a map of objects goes to the original, which throws its own TypeError.
    if (!isObjectMap(targets)) return fromJSON(data);
    const signed = fromJSON(rest);
    const files: Record<string, TargetFile> = Object.fromEntries(Object.entries(targets).map(([path, json]) => [path, TargetFile.fromJSON(path, json)]));
    // The constructor set an empty map; this is the same assignment with the parsed one.
    (signed as { targets: Record<string, TargetFile> }).targets = files;
    return signed;
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `call` on the instance below
  const toJSON = Targets.prototype.toJSON;
  Targets.prototype.toJSON = function (this: Targets): TargetsJson {
    // The original writes every field but the map from a view of this object whose map is empty.
    const json = toJSON.call(Object.create(this, { targets: { value: {} } }) as Targets);
    json.targets = Object.fromEntries(Object.entries(this.targets).map(([path, file]) => [path, file.toJSON() as JsonValue]));
    return json;
  };
}

/** @tufjs/models' `guard.isObjectRecord`: an object whose values are all non-null objects. */
function isObjectMap(value: unknown): value is Record<string, TargetsJson> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'object' && v !== null);
}

/** What {@link verifiedTargetsOf} needs of a refreshed tuf-js `Updater`: its one public way to read a verified target. */
export interface TargetInfoSource {
  getTargetInfo(targetPath: string): Promise<TargetFile | undefined>;
}

/**
 * The top-level targets of a refreshed tuf-js `Updater`, as tuf-js verified them; undefined when this
 * tuf-js does not hold them where expected (then resolve each path with `getTargetInfo`, the slow way).
 *
 * tuf-js has no API that lists targets, and its `getTargetInfo(path)` verifies the signatures of the
 * whole targets metadata again on every call (canonical JSON of all of it, then the signatures): one call
 * per target makes reading all of them quadratic in their number. The metadata tuf-js verified in
 * `refresh()` is held by the Updater's trusted metadata store (`trustedSet.targets`, private in tuf-js's
 * typings but a plain field), where tuf-js put it only after checking it against the trusted root's keys
 * and threshold, the trusted snapshot's version (and hashes and length when listed) and its expiry. This
 * reads that object and ties it to tuf-js's public answer: `getTargetInfo` (one verification) must return
 * the very TargetFile instance the object holds for a path, which proves it is the object tuf-js verified
 * and serves in this session. Used by the client's catalog and by `tufup-repo verify`.
 */
export async function verifiedTargetsOf(updater: TargetInfoSource): Promise<Readonly<Record<string, TargetFile>> | undefined> {
  const held = (updater as { trustedSet?: { targets?: unknown } }).trustedSet?.targets;
  if (!(held instanceof Metadata) || !(held.signed instanceof Targets)) return undefined;
  const targets = held.signed.targets;
  const first = Object.keys(targets)[0];
  if (first !== undefined && (await updater.getTargetInfo(first)) !== targets[first]) return undefined;
  return targets;
}
