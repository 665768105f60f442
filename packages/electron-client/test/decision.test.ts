import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CUSTOM_SCHEMA, type TufupCustom } from '@tufup/bundle';
import type { TargetFile } from '@tufjs/models';
import type { Catalog, Target } from '../src/core/catalog.js';
import { chooseRelease, type DecisionInput } from '../src/core/decision.js';
import { installId, rolloutBucket } from '../src/core/install-id.js';

// Which release an install takes, from the signed rollout and yank decisions, as a table; and the
// install id that places it in rollouts.

const INSTALL_ID_JS = fileURLToPath(new URL('../dist/core/install-id.js', import.meta.url));
const run = promisify(execFile);

type Release = [version: string, extra?: Partial<TufupCustom>];

function catalog(releases: readonly Release[]): Catalog {
  const archives = new Map<string, Target>();
  for (const [version, extra] of releases) {
    const tufup: TufupCustom = { schema: CUSTOM_SCHEMA, kind: 'archive', name: 'app', version, platform: 'linux', arch: 'x64', tar: { sha256: '0'.repeat(64), size: 1 }, required: false, ...extra };
    archives.set(version, { path: `linux-x64/app-${version}.tar.gz`, length: 1, custom: { tufup }, info: undefined as unknown as TargetFile });
  }
  return { archives, patches: new Map(), entries: new Map() };
}

/** An install id whose bucket for `version` is below (`in`) or above (`out`) `percent`. */
function idFor(version: string, percent: number, where: 'in' | 'out'): string {
  for (let i = 0; ; i++) {
    const id = i.toString(16).padStart(32, '0');
    const bucket = rolloutBucket(id, 'app', version);
    if (where === 'in' ? bucket < percent : bucket >= percent) return id;
  }
}

function input(current: string, id: string, extra: Partial<DecisionInput> = {}): DecisionInput {
  return { appName: 'app', currentVersion: current, channel: 'latest', allowPrerelease: false, excludeVersions: new Set(), installId: id, staged: new Set(), ...extra };
}

function choice(releases: readonly Release[], inp: DecisionInput): string {
  const offer = chooseRelease(catalog(releases), inp);
  if (offer === undefined) return 'nothing';
  const d = offer.decision;
  return `${offer.archive.custom.tufup.version} ${d.reason}${d.downgrade ? ' downgrade' : ''}`;
}

const YANK = { yanked: { reason: 'broken' } };

describe('the release an install takes', () => {
  const outOf20 = idFor('2.0.0', 20, 'out');
  const inOf20 = idFor('2.0.0', 20, 'in');
  it.each<[string, Release[], DecisionInput, string]>([
    ['the newest release at full rollout', [['1.0.0'], ['1.1.0'], ['2.0.0']], input('1.0.0', outOf20), '2.0.0 newer'],
    ['a staged release its bucket is under', [['1.0.0'], ['2.0.0', { rollout: 20 }]], input('1.0.0', inOf20), '2.0.0 newer'],
    ['the release before, when the newest has not reached it', [['1.0.0'], ['1.1.0'], ['2.0.0', { rollout: 20 }]], input('1.0.0', outOf20), '1.1.0 newer'],
    ['a paused release it already staged', [['1.0.0'], ['2.0.0', { rollout: 0 }]], input('1.0.0', inOf20, { staged: new Set(['2.0.0']) }), '2.0.0 staged'],
    ['a required release whatever its rollout', [['1.0.0'], ['2.0.0', { rollout: 0, required: true }]], input('1.0.0', outOf20), '2.0.0 required'],
    ['nothing yanked, even required (a yank wins)', [['1.0.0'], ['2.0.0', { required: true, ...YANK }]], input('1.0.0', inOf20), 'nothing'],
    ['the newest good release below a yanked one', [['1.0.0'], ['1.1.0'], ['2.0.0', YANK]], input('1.0.0', inOf20), '1.1.0 newer'],
    ['off a yanked running version: the newest good one, lower', [['1.0.0'], ['1.1.0'], ['2.0.0', YANK]], input('2.0.0', inOf20), '1.1.0 replaces-yanked downgrade'],
    ['off a yanked running version: a newer good one when there is', [['1.0.0'], ['2.0.0', YANK], ['2.1.0']], input('2.0.0', inOf20), '2.1.0 replaces-yanked'],
    ['off a yanked running version: not a rolled back (excluded) one', [['1.0.0'], ['1.1.0'], ['2.0.0', YANK]], input('2.0.0', inOf20, { excludeVersions: new Set(['1.1.0']) }), '1.0.0 replaces-yanked downgrade'],
    ['off a yanked running version: not a prerelease of another channel', [['1.0.0'], ['1.1.0-beta.1'], ['2.0.0', YANK]], input('2.0.0', inOf20), '1.0.0 replaces-yanked downgrade'],
    ['nothing when every other release is yanked too', [['1.0.0', YANK], ['2.0.0', YANK]], input('2.0.0', inOf20), 'nothing'],
    ['nothing below the running version when it is not yanked', [['1.0.0'], ['2.0.0']], input('2.0.0', inOf20), 'nothing'],
  ])('%s', (_what, releases, inp, expected) => {
    expect(choice(releases, inp)).toBe(expected);
  });
});

describe('the install id', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tufup-install-id-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is one id for eight processes that make it at the same moment', async () => {
    const cache = join(dir, 'race');
    const script = `const { installId } = await import(${JSON.stringify(INSTALL_ID_JS)}); process.stdout.write(await installId(${JSON.stringify(cache)}));`;
    const ids = await Promise.all(Array.from({ length: 8 }, () => run(process.execPath, ['--input-type=module', '-e', script]).then((r) => r.stdout)));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
    expect((await readFile(join(cache, 'install-id'), 'utf8')).trim()).toBe(ids[0]);
  });

  it('is made again when the file holds something else', async () => {
    const cache = join(dir, 'broken');
    const first = await installId(cache);
    await writeFile(join(cache, 'install-id'), '');
    const second = await installId(cache);
    expect(second).toMatch(/^[0-9a-f]{32}$/);
    expect(second).not.toBe(first);
    expect(await installId(cache)).toBe(second);
  });

  it('places installs evenly: about p% of ids fall under p for a version, a different set for each version', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => i.toString(16).padStart(32, '0'));
    const under = (version: string, p: number): Set<string> => new Set(ids.filter((id) => rolloutBucket(id, 'app', version) < p));
    const tenA = under('2.0.0', 10);
    expect(tenA.size / ids.length).toBeGreaterThan(0.09);
    expect(tenA.size / ids.length).toBeLessThan(0.11);
    const tenB = under('2.1.0', 10);
    const shared = [...tenA].filter((id) => tenB.has(id)).length;
    // Independent draws share about 10% of 10%.
    expect(shared / tenA.size).toBeLessThan(0.2);
  });
});
