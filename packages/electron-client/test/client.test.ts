import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '@tufup/testkit';
import { TestRepo } from '@tufup/testkit/repo';
import { UpdateClient, UpdateError, type CoreOptions, type UpdateInfo } from '../src/core/index.js';

// UpdateClient as a table: which update a check offers for each running version and option, and which
// downloads it refuses before fetching anything. One repository serves every row; the scenario suites
// (core-update, core-transfer, core-cache) follow whole updates through faults.

let repo: TestRepo;
let installDir: string;

beforeAll(async () => {
  repo = await TestRepo.create();
  await repo.publish('1.0.0');
  await repo.publish('1.1.0', { required: true });
  await repo.publish('1.2.0', { releaseNotes: 'faster startup' });
  await repo.publish('1.3.0-beta.1');
  await repo.publish('1.4.0', { platform: 'darwin' });
  installDir = await repo.install('1.0.0');
}, 60_000);
afterAll(() => repo.cleanup());

function client(version: string, extra: Partial<CoreOptions> = {}): UpdateClient {
  return new UpdateClient(repo.clientOptions(version, installDir, extra));
}

/** What a check offers, in one line: version, strategy, required and release notes. */
function offer(info: UpdateInfo | undefined): string {
  if (info === undefined) return 'nothing';
  return [info.version, info.plan.strategy, info.required ? 'required' : 'optional', info.releaseNotes].filter(Boolean).join(' ');
}

describe('checkForUpdates offers', () => {
  it.each<[string, string, Partial<CoreOptions>, string]>([
    ['the newest release, by patches, required when a skipped release is', '1.0.0', {}, '1.2.0 patch required faster startup'],
    ['the newest release, optional when nothing on the way is required', '1.1.0', {}, '1.2.0 patch optional faster startup'],
    ['nothing to the newest release', '1.2.0', {}, 'nothing'],
    ["a prerelease of the app's own channel", '1.2.0', { channel: 'beta' }, '1.3.0-beta.1 patch optional'],
    ['a prerelease of any channel when allowed', '1.2.0', { allowPrerelease: true }, '1.3.0-beta.1 patch optional'],
    ['no prerelease of another channel', '1.2.0', { channel: 'alpha' }, 'nothing'],
    ['the newest release not excluded (rolled back)', '1.0.0', { excludeVersions: ['1.2.0'] }, '1.1.0 patch required'],
    ['the full archive when no patch chain starts at the running version', '0.9.0', {}, '1.2.0 full required faster startup'],
    ["only its own platform's releases", '1.0.0', { platform: 'darwin' }, '1.4.0 full optional'],
  ])('%s (running %s)', async (_what, running, options, expected) => {
    expect(offer(await client(running, options).checkForUpdates())).toBe(expected);
  });
});

describe('downloadUpdate refuses, with NO_UPDATE', () => {
  it.each<[string, string, Partial<CoreOptions>, string]>([
    ['a version that is not newer than the running one', '1.0.0', {}, '1.0.0'],
    ['a version that is older', '1.1.0', {}, '1.0.0'],
    ['a version that is not a version', '1.0.0', {}, 'latest'],
    ['a version the repository does not offer', '1.0.0', {}, '9.9.9'],
    ['an excluded (rolled back) version', '1.0.0', { excludeVersions: ['1.2.0'] }, '1.2.0'],
  ])('%s', async (_what, running, options, version) => {
    const c = client(running, options);
    const info = await client('1.0.0').checkForUpdates();
    if (info === undefined) throw new Error('the repository offers no update');
    expect(await codeOf(c.downloadUpdate({ ...info, version }), UpdateError)).toBe('NO_UPDATE');
  });
});
