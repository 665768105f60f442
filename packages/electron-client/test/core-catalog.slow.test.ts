import { Metadata, type Targets } from '@tufjs/models';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { UpdateClient } from '@tufup/electron-client/core';
import { TestRepo } from '@tufup/testkit/repo';

/**
 * Counts signature checks of the targets metadata (each canonicalizes and verifies the whole file, so
 * their number times the file's size is the work of a check).
 */
function countTargetsVerifications(): { readonly count: number } {
  const counter = { count: 0 };
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `call` on the instance
  const verify = Metadata.prototype.verifyDelegate;
  vi.spyOn(Metadata.prototype, 'verifyDelegate').mockImplementation(function (this: Metadata<Targets>, role, delegated) {
    if (role === 'targets') counter.count++;
    verify.call(this, role, delegated);
  });
  return counter;
}

describe('the catalog of a check', () => {
  let fixture: TestRepo;

  beforeAll(async () => (fixture = await TestRepo.published(['1.0.0', '1.1.0'])));
  afterAll(() => fixture.cleanup());
  afterEach(() => vi.restoreAllMocks());

  it('verifies the targets metadata the same few times however many targets it lists, in a check and in a download', async () => {
    const { client, options } = await fixture.client('1.0.0');
    const few = countTargetsVerifications();
    expect((await client.checkForUpdates())?.version).toBe('1.1.0');
    const atTwoVersions = few.count;
    vi.restoreAllMocks();

    // Three more releases: eight more targets for this build, and a few for another.
    await fixture.publish('1.2.0');
    await fixture.publish('1.3.0');
    await fixture.publish('1.3.0', { platform: 'win32' });
    await fixture.publish('1.4.0');
    const many = countTargetsVerifications();
    const check = new UpdateClient(options);
    const info = await check.checkForUpdates();
    expect(info?.version).toBe('1.4.0');
    const atFiveVersions = many.count;
    await check.downloadUpdate(info!);
    const inDownload = many.count - atFiveVersions;

    // One when tuf-js loads it in refresh(), one for the proof that the catalog reads that same object;
    // never one per target (the check was quadratic in the number of targets).
    expect(atTwoVersions).toBeLessThanOrEqual(2);
    expect(atFiveVersions).toBe(atTwoVersions);
    expect(inDownload).toBe(atTwoVersions);
  });
});
