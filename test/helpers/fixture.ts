import { join } from 'node:path';
import { findStagedUpdate, type CoreOptions, type StagedUpdate } from '@tufup/electron-client/core';
import { listFiles } from '@tufup/testkit';
import { TestRepo, type RepoSetup } from '@tufup/testkit/repo';

export { listFiles, readTree, runApp, writeBundle, type Tree, type TreeEntry } from '@tufup/testkit';
export { APP, ARCH, BUILD, PLATFORM } from '@tufup/testkit/repo';

/** The suite's repository: a @tufup/testkit TestRepo whose clients retry once, with a generous stall timeout (the machine is shared; tests of stalls set their own). */
export type Repo = TestRepo;
export const Repo = {
  create: (setup: RepoSetup = {}): Promise<TestRepo> => TestRepo.create({ ...setup, clientDefaults: { stallTimeoutMs: 10_000, retries: 1 } }),
};

/** What an update attempt left behind: what is staged, what the cache holds. */
export async function leftovers(options: CoreOptions): Promise<{ staged: StagedUpdate | undefined; targets: string[]; stagedFiles: string[] }> {
  // Listed before findStagedUpdate, which tidies the staged folder up.
  const targets = await listFiles(join(options.cacheDir, 'targets'));
  const stagedFiles = await listFiles(join(options.cacheDir, 'staged'));
  return { staged: await findStagedUpdate(options.cacheDir, options.currentVersion), targets, stagedFiles };
}
