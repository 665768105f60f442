import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpdateClient, type StagedUpdate } from '@tufup/electron-client/core';
import { healthMarkerPath, installerCommand, installFiles, installFolder, shippedScript, type InstallRequest } from '@tufup/electron-client/install';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { APP, ARCH, PLATFORM, readTree, Repo, writeBundle, type Tree } from './helpers/fixture.js';
import { checkTraceLog, describeCheck, runTraced, straceMissing, type RenameCheck } from './helpers/strace.js';
import { Summary } from './helpers/summary.js';

// Every rename that publishes something a reader trusts after a power cut -- the client's staged folder and
// its record, the repository's files with timestamp.json last, the installer's swap and its result -- must
// be durable: what it moves fsynced before it, the folder of the new name fsynced after it, before the next
// step. The real programs run under strace and their calls are replayed on a model of what a crash loses
// (test/helpers/strace.ts); a missing fsync anywhere shows up as a row that is not "durable".

const summary = new Summary('Durability: publishing renames of real runs, replayed from strace (what a power cut could lose)');
const RUNNER = fileURLToPath(new URL('./helpers/runner.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../packages/repo-tools/bin/tufup-repo.js', import.meta.url));
const missing = straceMissing();

function durable(check: RenameCheck): boolean {
  return check.unsynced.length === 0 && check.unsyncedFolders.length === 0;
}

describe.skipIf(missing !== undefined)(`durability after a power cut${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let repo: Repo;
  let bundles: Record<string, Tree>;
  let logs: string;
  let counter = 0;

  beforeAll(async () => {
    repo = await Repo.create();
    bundles = await repo.publishAll(['1.0.0', '1.1.0']);
    logs = await repo.folder('traces');
  });
  afterAll(async () => {
    summary.print();
    await repo.cleanup();
  });

  /** Records every checked rename of a run in the table, with paths shortened to the part that tells. */
  function record(run: string, checks: RenameCheck[], root: string): void {
    const shorten = (p: string): string => (p.startsWith(root) ? `…${p.slice(root.length)}` : p);
    for (const check of checks) {
      summary.record({ case: run, expected: 'durable', observed: describeCheck(check, shorten) });
    }
  }

  it('the client core stages an update durably: the extracted folder, then its record', async () => {
    const options = repo.clientOptions('1.0.0', await repo.install('1.0.0'));
    const log = join(logs, `client-${++counter}.log`);
    const code = await runTraced(log, process.execPath, ['--no-warnings', RUNNER, JSON.stringify({ options })]);
    expect(code).toBe(0);
    const staged = join(options.cacheDir, 'staged');
    const checks = await checkTraceLog(log, [staged]);
    record('client core: download and stage 1.1.0', checks, staged);

    const targets = checks.map((c) => basename(c.to));
    // The folder is published before the record that makes it count.
    expect(targets.indexOf('1.1.0')).toBeGreaterThanOrEqual(0);
    expect(targets.indexOf('1.1.0.json')).toBeGreaterThan(targets.indexOf('1.1.0'));
    expect(checks.filter((c) => !durable(c)).map((c) => describeCheck(c))).toEqual([]);
    expect(await readTree(join(staged, '1.1.0'))).toEqual(bundles['1.1.0']);
  });

  it('tufup-repo add commits durably, file by file, with timestamp.json last', async () => {
    let checks: RenameCheck[];
    let published: string[];
    // A repository of its own, so the installs below still find 1.1.0 the newest.
    const own = await Repo.create();
    try {
      await own.publish('1.0.0');
      const bundle = await writeBundle(join(await own.folder('bundle'), APP), '1.1.0');
      const log = join(logs, `repo-${++counter}.log`);
      const code = await runTraced(log, process.execPath, [CLI, 'add', bundle, '--version', '1.1.0', '--platform', PLATFORM, '--arch', ARCH, '--repo', own.repoDir, '--keys-dir', own.keysDir]);
      expect(code).toBe(0);
      checks = await checkTraceLog(log, [own.repoDir]);
      record('tufup-repo add 1.1.0', checks, own.repoDir);
      published = checks.map((c) => c.to.slice(own.repoDir.length + 1));
    } finally {
      await own.cleanup();
    }

    // Consistent snapshots: targets are published under their hash, `<sha256>.<name>`.
    expect(published.some((p) => p.startsWith(`targets/${PLATFORM}-${ARCH}/`) && p.endsWith(`.${APP}-1.1.0.tar.gz`))).toBe(true);
    expect(published.at(-1)).toBe('metadata/timestamp.json');
    expect(checks.filter((c) => !durable(c)).map((c) => describeCheck(c))).toEqual([]);
  });

  /** A client on 1.0.0 with 1.1.0 staged by the real core, and the request its app hands the installer. */
  async function stagedInstall(stagedParent?: string): Promise<{ request: InstallRequest; staged: StagedUpdate }> {
    const installDir = await repo.install('1.0.0');
    const options = repo.clientOptions('1.0.0', installDir);
    const client = new UpdateClient(options);
    let staged = await client.downloadUpdate((await client.checkForUpdates())!);
    if (stagedParent !== undefined) {
      // The cache on another volume than the install: the installer copies instead of renaming.
      const other = join(stagedParent, staged.version);
      spawnSync('cp', ['-R', '-P', '-p', staged.stagedDir, other]);
      staged = { ...staged, stagedDir: other };
    }
    const request: InstallRequest = {
      pid: spawnSync('true').pid,
      installDir,
      stagedDir: staged.stagedDir,
      version: staged.version,
      cacheDir: options.cacheDir,
      // The relaunched version confirms at once, so the run goes through the health check and the clean-up.
      relaunch: ['/bin/sh', '-c', 'touch "$1"', 'sh', healthMarkerPath(options.cacheDir, staged.version)],
      healthTimeoutMs: 20_000,
      waitTimeoutMs: 20_000,
    };
    return { request, staged };
  }

  const shm = '/dev/shm';
  const otherVolume = async (): Promise<boolean> =>
    (await stat(shm).then(() => true, () => false)) && (await stat(shm)).dev !== (await stat(tmpdir())).dev;

  const swaps = [
    { name: 'one atomic exchange', env: {} },
    { name: 'two renames (TUFUP_INSTALL_NO_EXCHANGE=1)', env: { TUFUP_INSTALL_NO_EXCHANGE: '1' } },
    { name: 'a copy from another volume', env: {}, copy: true },
  ];
  for (const swap of swaps) {
    it(`install.sh swaps durably with ${swap.name}: nothing is removed or reported installed before the swap is on disk`, async (context) => {
      let stagedParent: string | undefined;
      if (swap.copy === true) {
        if (!(await otherVolume())) return context.skip();
        stagedParent = await mkdtemp(join(shm, 'tufup-durable-'));
      }
      try {
        const { request } = await stagedInstall(stagedParent);
        const files = installFiles(request);
        await mkdir(dirname(files.script), { recursive: true });
        await copyFile(shippedScript('linux'), files.script);
        await writeFile(files.result, '');
        const { command, args } = installerCommand(request);
        const log = join(logs, `installer-${++counter}.log`);
        const env = { ...process.env, ...swap.env };
        if (swap.env.TUFUP_INSTALL_NO_EXCHANGE === undefined) delete env.TUFUP_INSTALL_NO_EXCHANGE;
        const code = await runTraced(log, command, args, { env, cwd: dirname(files.script) });
        expect(code).toBe(0);
        const parent = dirname(request.installDir);
        const checks = await checkTraceLog(log, [parent, installFolder(request.cacheDir)]);
        record(`install.sh, ${swap.name}`, checks, dirname(parent));

        expect(await readTree(request.installDir)).toEqual(bundles['1.1.0']);
        // The swap itself was checked: an exchange, or the rename of the new version into the install folder's place.
        expect(checks.some((c) => c.to === request.installDir || c.from === request.installDir)).toBe(true);
        expect(checks.some((c) => c.to === files.result)).toBe(true);
        expect(checks.filter((c) => !durable(c)).map((c) => describeCheck(c))).toEqual([]);
      } finally {
        if (stagedParent !== undefined) await rm(stagedParent, { recursive: true, force: true });
      }
    });
  }
});
