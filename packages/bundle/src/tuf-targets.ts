import { TargetFile, Targets } from '@tufjs/models';

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
