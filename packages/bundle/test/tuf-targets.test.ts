import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, TargetFile, Targets } from '@tufjs/models';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useLinearTargetsCodec } from '../src/tuf-targets.js';

type Json = Parameters<typeof Targets.fromJSON>[0];

/**
 * Node's strict deep equality (prototypes, own keys, values). Not vitest's `toStrictEqual`: it compares
 * `a.constructor`, which here is a target path like any other.
 */
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

// @tufjs/models' own conversions, taken before the codec wraps them (nothing installs it on import).
const installedAtLoad = (Targets as unknown as Record<symbol, unknown>)[Symbol.for('tufup.linearTargetsCodec')];
const originalFromJSON = Targets.fromJSON.bind(Targets);
// eslint-disable-next-line @typescript-eslint/unbound-method -- called with `call` below
const originalToJSON = Targets.prototype.toJSON;

function entry(seed: number, custom: unknown = { tufup: { version: `1.${seed}.0`, tar: { sha256: 'ab'.repeat(32), size: seed } } }): Json {
  return { length: 1000 + seed, hashes: { sha256: seed.toString(16).padStart(64, '0') }, custom } as Json;
}

/** A targets `signed` part with awkward paths, extra fields and a delegation, as a repository may hold. */
function targetsJson(): Json {
  const targets: Json = {};
  for (const path of ['linux-x64/app-1.0.0.tar.gz', 'linux-x64/app-1.1.0.patch', 'dir/ünïcödé name', 'constructor', 'toString', 'hasOwnProperty']) {
    targets[path] = entry(Object.keys(targets).length);
  }
  // An own "__proto__" path, as JSON.parse makes it: it must stay a path, never a prototype.
  Object.defineProperty(targets, '__proto__', { value: entry(99, null), enumerable: true, configurable: true, writable: true });
  return {
    _type: 'targets',
    spec_version: '1.0.31',
    version: 7,
    expires: '2030-01-01T00:00:00Z',
    targets,
    delegations: { keys: {}, roles: [{ name: 'bins', keyids: [], threshold: 1, terminating: false, paths: ['bins/*'] }] },
    x_publisher: { note: 'kept' },
  };
}

describe('the linear targets codec', () => {
  useLinearTargetsCodec();

  it('was not installed by importing anything, so the originals above are @tufjs/models own', () => {
    expect(installedAtLoad).toBeUndefined();
  });

  it('parses targets into the same objects as @tufjs/models', () => {
    const json = targetsJson();
    const ours = Targets.fromJSON(json);
    expect(same(ours, originalFromJSON(json))).toBe(true);
    expect(Object.getPrototypeOf(ours.targets)).toBe(Object.prototype);
    expect(Object.keys(ours.targets)).toEqual(Object.keys(json.targets as object));
    for (const [path, file] of Object.entries(ours.targets)) {
      expect(file).toBeInstanceOf(TargetFile);
      expect(file.path).toBe(path);
    }
  });

  it('writes the same JSON, so signatures are checked over the same canonical bytes', () => {
    const parsed = originalFromJSON(targetsJson());
    const ours = parsed.toJSON();
    const theirs = originalToJSON.call(parsed);
    expect(same(ours, theirs)).toBe(true);
    expect(canonicalize(ours)).toBe(canonicalize(theirs));
    expect(canonicalize(ours)).toBe(canonicalize(targetsJson()));
  });

  it('round-trips whole metadata through Metadata.fromJSON, empty and missing maps included', () => {
    const signed = { signatures: [{ keyid: 'k'.repeat(64), sig: '00' }], signed: targetsJson() } as Json;
    expect(same(Metadata.fromJSON(MetadataKind.Targets, signed).toJSON(), signed)).toBe(true);
    const { targets: _targets, ...noTargets } = targetsJson();
    expect(Targets.fromJSON(noTargets).targets).toStrictEqual({});
    expect(Targets.fromJSON({ ...noTargets, targets: {} }).toJSON()).toStrictEqual({ ...noTargets, targets: {} });
  });

  it('refuses what @tufjs/models refuses, with its error', () => {
    for (const targets of ['a string', 42, { 'x/y': 'not an object' }, { 'x/y': null }]) {
      const json = { ...targetsJson(), targets } as Json;
      expect(() => originalFromJSON(json)).toThrow(TypeError);
      expect(() => Targets.fromJSON(json)).toThrow(TypeError);
    }
    expect(() => Targets.fromJSON({ ...targetsJson(), targets: { 'x/y': { length: -1, hashes: {} } } })).toThrow(/Length must be at least 0/);
  });

  it('is installed once however often it is asked for', () => {
    const wrapped = Object.getOwnPropertyDescriptor(Targets, 'fromJSON')?.value as unknown;
    useLinearTargetsCodec();
    expect(Object.getOwnPropertyDescriptor(Targets, 'fromJSON')?.value).toBe(wrapped);
  });
});
