import { describe, expect, it } from 'vitest';
import { CUSTOM_SCHEMA, parseTargetCustom, type TargetCustom } from '../src/index.js';
import { expectThrowsCode } from './helpers.js';

const tarDigest = { sha256: 'a'.repeat(64), size: 1_234_567 };
const baseDigest = { sha256: 'b'.repeat(64), size: 1_200_000 };

/** What a publisher writes for an archive and for a patch (through JSON, as it travels). */
const archive: TargetCustom = {
  tufup: { schema: CUSTOM_SCHEMA, kind: 'archive', name: 'MyApp', version: '1.3.0', platform: 'linux', arch: 'x64', tar: tarDigest, required: false, releaseNotes: 'Faster start-up.' },
  user: { channel: 'stable', rollout: 0.5 },
};
const patch: TargetCustom = {
  tufup: { schema: CUSTOM_SCHEMA, kind: 'patch', name: 'MyApp', version: '1.3.0', platform: 'linux', arch: 'x64', tar: tarDigest, base: { version: '1.2.0', ...baseDigest }, required: true },
};

const viaJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('target custom metadata', () => {
  it('accepts what a publisher writes for an archive, keeping the publisher’s own fields', () => {
    expect(parseTargetCustom(viaJson(archive), 'linux-x64/MyApp-1.3.0.tar.gz')).toEqual(archive);
  });

  it('accepts what a publisher writes for a patch, with its base', () => {
    expect(parseTargetCustom(viaJson(patch), 'linux-x64/MyApp-1.3.0.patch')).toEqual(patch);
  });

  it('accepts what a publisher writes for an entry list: the tar it rebuilds, no base', () => {
    const entries = { tufup: { schema: CUSTOM_SCHEMA, kind: 'entries', name: 'MyApp', version: '1.3.0', platform: 'linux', arch: 'x64', tar: tarDigest, required: false } };
    expect(parseTargetCustom(viaJson(entries), 'linux-x64/MyApp-1.3.0.entries')).toEqual(entries);
  });

  it('reads a missing `required` as false and drops unknown fields of the tufup section', () => {
    const parsed = parseTargetCustom({ tufup: { ...archive.tufup, required: undefined, extra: 1 } }, 'x');
    expect(parsed.tufup.required).toBe(false);
    expect(parsed.tufup).not.toHaveProperty('extra');
  });

  it('keeps a staged rollout and a yank with its reason, the release decisions clients act on', () => {
    const staged = { tufup: { ...archive.tufup, rollout: 10, yanked: { reason: 'crashes on start', date: '2026-11-26T10:00:00Z' } } };
    expect(parseTargetCustom(viaJson(staged), 'x')).toEqual(staged);
    // Absent fields mean a full rollout and a good release: targets written before these fields read the same.
    const plain = parseTargetCustom(viaJson(archive), 'x').tufup;
    expect(plain).not.toHaveProperty('rollout');
    expect(plain).not.toHaveProperty('yanked');
  });

  it('accepts the rollout bounds 0 (paused) and 100 (everyone)', () => {
    for (const rollout of [0, 100]) expect(parseTargetCustom({ tufup: { ...archive.tufup, rollout } }, 'x').tufup.rollout).toBe(rollout);
  });

  const broken: [string, unknown][] = [
    ['a rollout above 100', { tufup: { ...archive.tufup, rollout: 101 } }],
    ['a negative rollout', { tufup: { ...archive.tufup, rollout: -1 } }],
    ['a fractional rollout', { tufup: { ...archive.tufup, rollout: 12.5 } }],
    ['a rollout written as a string', { tufup: { ...archive.tufup, rollout: '10' } }],
    ['a yank without a reason', { tufup: { ...archive.tufup, yanked: {} } }],
    ['a yank that is only a flag', { tufup: { ...archive.tufup, yanked: true } }],
    ['a yank whose date is not a string', { tufup: { ...archive.tufup, yanked: { reason: 'x', date: 5 } } }],
    ['no custom at all', undefined],
    ['no tufup section', { user: {} }],
    ['a tufup section that is an array', { tufup: [] }],
    ['a newer schema', { tufup: { ...archive.tufup, schema: CUSTOM_SCHEMA + 1 } }],
    ['an unknown kind', { tufup: { ...archive.tufup, kind: 'installer' } }],
    ['no name', { tufup: { ...archive.tufup, name: undefined } }],
    ['a name with a slash', { tufup: { ...archive.tufup, name: '../MyApp' } }],
    ['an upper-case arch', { tufup: { ...archive.tufup, arch: 'X64' } }],
    ['a version that is not semver', { tufup: { ...archive.tufup, version: 'v1.3' } }],
    ['a numeric platform', { tufup: { ...archive.tufup, platform: 7 } }],
    ['no tar digest', { tufup: { ...archive.tufup, tar: undefined } }],
    ['a tar digest with a short hash', { tufup: { ...archive.tufup, tar: { sha256: 'abc', size: 1 } } }],
    ['a tar digest with upper-case hex', { tufup: { ...archive.tufup, tar: { sha256: 'A'.repeat(64), size: 1 } } }],
    ['a negative size', { tufup: { ...archive.tufup, tar: { ...tarDigest, size: -1 } } }],
    ['a fractional size', { tufup: { ...archive.tufup, tar: { ...tarDigest, size: 1.5 } } }],
    ['a patch without base', { tufup: { ...patch.tufup, base: undefined } }],
    ['a patch whose base has no version', { tufup: { ...patch.tufup, base: baseDigest } }],
    ['a patch whose base version is not semver', { tufup: { ...patch.tufup, base: { ...baseDigest, version: '1.2' } } }],
    ['a patch whose base has no digest', { tufup: { ...patch.tufup, base: { version: '1.2.0' } } }],
  ];

  it.each(broken)('refuses %s with INVALID_METADATA naming the target', (_what, custom) => {
    const error = expectThrowsCode(() => parseTargetCustom(viaJson(custom ?? null), 'linux-x64/MyApp-1.3.0.tar.gz'), 'INVALID_METADATA');
    expect(error.message).toContain('linux-x64/MyApp-1.3.0.tar.gz');
  });
});
