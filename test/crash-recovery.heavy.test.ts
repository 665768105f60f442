import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findStagedUpdate, UpdateClient, type CoreOptions, type Progress, type StagedUpdate } from '@tufup/electron-client/core';
import { healthMarkerPath, readFailedVersions, recoverInterruptedInstall, writeHealthMarker, type RecoveryAction } from '@tufup/electron-client/install';
import { seededRandom } from '@tufup/testkit';
import { BUILD, readTree, Repo, runApp, type Tree } from './helpers/fixture.js';
import { installerResult, installerStoppedAt, killGroup, runInstaller, startScript, swapModeHere, waitFor, type InstallRequest, type InstallStep, type SwapMode } from './helpers/installer.js';
import type { RunnerMessage, RunnerRequest } from './helpers/runner.js';
import { Summary } from './helpers/summary.js';

const summary = new Summary('Crash recovery: the client core and the installer killed (SIGKILL) mid-update, then the next launch');

// The randomized kills: seeded (TUFUP_CRASH_SEED repeats a run), bounded (TUFUP_CRASH_KILLS per swap mode).
const SEED = Number(process.env.TUFUP_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = Math.max(1, Number(process.env.TUFUP_CRASH_KILLS ?? 12));
const randomKills = new Summary(`Crash recovery: install.sh SIGKILLed at random moments, then the next launch (seed ${SEED}, ${KILLS} kills per swap mode; repeat with TUFUP_CRASH_SEED=${SEED})`);

const RUNNER = fileURLToPath(new URL('./helpers/runner.ts', import.meta.url));

// Whether install.sh swaps with one atomic exchange here decides which cases can hold; the fallback is
// tested either way. It must on Linux x64/arm64 with perl (what install.sh knows the renameat2 number for),
// so a script that stops exchanging fails there instead of skipping; elsewhere the script itself is asked
// (GNU mv >= 9.5 has --exchange).
const perlHere = spawnSync('/bin/sh', ['-c', 'command -v perl'], { stdio: 'ignore' }).status === 0;
const probeDir = await mkdtemp(join(tmpdir(), 'tufup-swap-probe-'));
const probed: SwapMode = await swapModeHere(probeDir).finally(() => rm(probeDir, { recursive: true, force: true }));
const HERE: SwapMode = process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') && perlHere ? 'exchange' : probed;

/** The steps of the installer a kill lands before, in the order it runs them, for each way of swapping. */
const STEPS: Record<SwapMode, [InstallStep, string][]> = {
  exchange: [
    ['waiting', 'while waiting for the app to exit'],
    ['staging', 'before moving the staged folder next to the install'],
    ['swap', 'just before the atomic exchange of the old and new folders'],
    ['backup', 'just after the exchange, before renaming the old version to the backup'],
    ['health', 'while waiting for the relaunched app to report a healthy start'],
    ['cleanup', 'before putting the backup aside for deletion'],
    ['discard', 'while deleting the previous version'],
    ['result', 'before writing its result'],
  ],
  renames: [
    ['waiting', 'while waiting for the app to exit'],
    ['staging', 'before moving the staged folder next to the install'],
    ['backup', 'before moving the old install aside'],
    ['swap', 'between moving the old install aside and the new one in'],
    ['health', 'while waiting for the relaunched app to report a healthy start'],
    ['cleanup', 'before putting the backup aside for deletion'],
    ['discard', 'while deleting the previous version'],
    ['result', 'before writing its result'],
  ],
};

/** The client core in a child process of its own, as the app's update worker runs it. */
class Runner {
  readonly messages: RunnerMessage[] = [];
  readonly child: ChildProcess;
  private readonly exit: Promise<void>;

  constructor(request: RunnerRequest) {
    this.child = fork(RUNNER, [JSON.stringify(request)], { execPath: process.execPath, execArgv: ['--no-warnings'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m) => this.messages.push(m as RunnerMessage));
    this.exit = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exit;
  }

  /** Waits for the run to end and returns its last word. */
  async result(): Promise<RunnerMessage | undefined> {
    await this.exit;
    return this.messages.filter((m) => m.type !== 'progress').at(-1);
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('crash recovery', () => {
  let repo: Repo;
  let bundles: Record<string, Tree>;
  const killLater: ChildProcess[] = [];

  beforeAll(async () => {
    repo = await Repo.create();
    bundles = await repo.publishAll(['1.0.0', '1.1.0']);
  });
  afterEach(async () => {
    repo.server.behave();
    for (const child of killLater.splice(0)) await killGroup(child);
  });
  afterAll(async () => {
    summary.print();
    randomKills.print();
    await repo.cleanup();
  });

  /** Which published version the folder holds exactly; `a mix` or `missing` otherwise. */
  async function versionIn(dir: string): Promise<string> {
    if (!(await exists(dir))) return 'missing';
    const tree = JSON.stringify(await readTree(dir));
    return Object.entries(bundles).find(([, t]) => JSON.stringify(t) === tree)?.[0] ?? 'a mix';
  }

  describe('the client core killed mid-update', () => {
    const phases: Progress['phase'][] = ['download', 'patch', 'extract'];
    for (const phase of phases) {
      it(`killed during ${phase}: the install is untouched and the next run stages the update`, async () => {
        const options = repo.clientOptions('1.0.0', await repo.install('1.0.0'));
        const marker = join(await repo.folder('marker'), 'frozen');
        let first: Runner;
        if (phase === 'download') {
          // The server sends part of the patch and holds the rest back; the kill lands mid-file.
          repo.server.on({ pathEnd: '1.1.0.patch', does: { kind: 'stall', afterBytes: 1500 }, times: 1 });
          first = new Runner({ options });
          const dir = join(options.cacheDir, 'targets', BUILD);
          await waitFor(async () => {
            const names = await readdir(dir).catch(() => []);
            const partial = names.find((n) => n.endsWith('.partial'));
            return partial !== undefined && (await stat(join(dir, partial))).size > 0 ? true : undefined;
          }, 'a partial download');
        } else {
          first = new Runner({ options, freeze: { phase, marker } });
          await waitFor(async () => ((await exists(marker)) ? true : undefined), `the client to be in the ${phase} phase`);
        }
        await first.kill();
        const afterKill = await versionIn(options.installDir);
        const runs = await runApp(options.installDir);

        const requestsBefore = repo.server.requestsFor('1.1.0.patch').length;
        const second = await new Runner({ options }).result();
        const staged = await findStagedUpdate(options.cacheDir, '1.0.0');
        const stagedVersion = staged === undefined ? 'nothing' : await versionIn(staged.stagedDir);
        const resumed = repo.server.requestsFor('1.1.0.patch').slice(requestsBefore).some((r) => r.range !== undefined);
        const litter = (await readdir(join(options.cacheDir, 'staged'))).filter((n) => n !== '1.1.0' && n !== '1.1.0.json');
        summary.record({
          case: `client killed during ${phase}`,
          expected: 'install 1.0.0 runs; next run stages 1.1.0',
          observed: `install ${afterKill} (runs: ${runs ?? 'no'}); next run: ${second?.type ?? 'nothing'} ${stagedVersion}${phase === 'download' ? (resumed ? ', resumed' : ', restarted') : ''}${litter.length > 0 ? `; litter ${litter.join(',')}` : ''}`,
        });
        expect(afterKill).toBe('1.0.0');
        expect(runs).toBe('1.0.0');
        expect(second).toMatchObject({ type: 'staged', version: '1.1.0' });
        expect(stagedVersion).toBe('1.1.0');
        expect(litter).toEqual([]);
        if (phase === 'download') expect(resumed).toBe(true);
      });
    }
  });

  describe('the installer killed at each step', () => {
    /** A client on 1.0.0 with 1.1.0 staged by the real core, and the request the app would hand the installer. */
    async function stagedInstall(): Promise<{ options: CoreOptions; staged: StagedUpdate; request: InstallRequest; workDir: string }> {
      const installDir = await repo.install('1.0.0');
      const options = repo.clientOptions('1.0.0', installDir);
      const client = new UpdateClient(options);
      const staged = await client.downloadUpdate((await client.checkForUpdates())!);
      // The app has quit: its pid is one that has exited.
      const pid = spawnSync('true').pid;
      const request: InstallRequest = { pid, installDir, stagedDir: staged.stagedDir, version: staged.version, cacheDir: options.cacheDir, relaunch: [], healthTimeoutMs: 0, waitTimeoutMs: 20_000 };
      return { options, staged, request, workDir: await repo.folder('installer') };
    }

    /** What sits beside the install folder: the installer's backup, incoming, failed or trash folders. */
    async function beside(installDir: string): Promise<string[]> {
      return (await readdir(dirname(installDir))).filter((n) => n !== basename(installDir)).sort();
    }

    /** What the app's relaunch does when the new version starts well: `markHealthy()` writes this marker. */
    const healthy = (cacheDir: string, version: string): string[] => ['/bin/sh', '-c', 'sleep 0.1; touch "$1"', 'sh', healthMarkerPath(cacheDir, version)];

    interface Launch {
      /** What ran when the user started the app, before anything else. */
      ran: string;
      /** Whether nothing could start and an installer run had to repair the install folder first. */
      repaired: boolean;
      recovery: RecoveryAction | 'none';
      /** The install folder and what was beside it once the launch recovered. */
      recovered: string;
      leftBeside: string[];
      /** The version installed once the update completed (through the launch-time, health-checked install). */
      final: string;
      downloads: number;
    }

    /**
     * The next launch, as the app runs it: whatever version the install folder starts finishes the
     * interrupted run (`recoverInterruptedInstall`, which the updater calls first), calling `markHealthy()`
     * when asked to; then the update completes as applyPendingUpdate does it: the staged (or downloaded
     * again) update installed with a relaunch and a health check.
     */
    async function nextLaunch(options: CoreOptions, request: InstallRequest): Promise<Launch> {
      const { installDir, cacheDir } = request;
      const fetches = (): number => repo.server.requestsFor('1.1.0.patch').length + repo.server.requestsFor('1.1.0.tar.gz').length;
      const fetchesBefore = fetches();
      let running = await runApp(installDir);
      const ran = running ?? 'nothing';
      let repaired = false;
      if (running === undefined) {
        // Nothing can start the app; only another installer run (for the same update) can repair it.
        await runInstaller({ ...request, pid: spawnSync('true').pid, relaunch: healthy(cacheDir, request.version), healthTimeoutMs: 20_000 });
        repaired = true;
        running = await runApp(installDir);
      }
      if (running === undefined) return { ran, repaired, recovery: 'none', recovered: 'not runnable', leftBeside: await beside(installDir), final: 'not runnable', downloads: fetches() - fetchesBefore };
      // The app's main process, up while the updater works.
      const app = spawn('sleep', ['600'], { stdio: 'ignore' });
      let recovery: RecoveryAction;
      try {
        ({ action: recovery } = await recoverInterruptedInstall({ installDir, cacheDir, currentVersion: running, pid: app.pid!, relaunch: [], healthTimeoutMs: 20_000 }));
        if (recovery === 'finishing') {
          // The app works: it calls markHealthy(), and the finishing installer removes the previous version.
          await writeHealthMarker(cacheDir, running);
          expect(await installerResult(cacheDir)).toEqual({ status: 'installed', version: running });
        }
      } finally {
        app.kill('SIGKILL');
      }
      const recovered = await versionIn(installDir);
      const leftBeside = await beside(installDir);
      let final = recovered;
      const current = await runApp(installDir);
      const client = new UpdateClient({ ...options, currentVersion: current ?? running });
      const offered = await client.checkForUpdates();
      if (offered !== undefined) {
        const excluded = await readFailedVersions(cacheDir);
        const staged = (await findStagedUpdate(cacheDir, current ?? running, { excludeVersions: excluded })) ?? (await client.downloadUpdate(offered));
        const outcome = await runInstaller({ ...request, stagedDir: staged.stagedDir, version: staged.version, pid: spawnSync('true').pid, relaunch: healthy(cacheDir, staged.version), healthTimeoutMs: 20_000 });
        expect(outcome).toEqual({ status: 'installed', version: staged.version });
        final = await versionIn(installDir);
      }
      return { ran, repaired, recovery, recovered, leftBeside, final, downloads: fetches() - fetchesBefore };
    }

    const describeLaunch = (l: Launch): string =>
      `${l.repaired ? 'nothing ran; installer re-run repaired it; ' : ''}launch ${l.ran}: ${l.recovery}, install ${l.recovered}${l.leftBeside.length > 0 ? ` + ${l.leftBeside.join(',')}` : ''}; final ${l.final}, ${l.downloads} downloads`;

    for (const mode of ['exchange', 'renames'] as const) {
      const title = mode === 'exchange' ? 'swapping with one atomic exchange' : 'swapping with two renames (no atomic exchange; forced)';
      describe.skipIf(mode === 'exchange' && HERE !== 'exchange')(title, () => {
        for (const [step, when] of STEPS[mode]) {
          // Between two renames the install folder does not exist: the app cannot start, so no launch can
          // recover; only a new run of the installer does (see the case below). Only the atomic exchange
          // closes that window; this case stays `fails` as the record of it.
          const test = step === 'swap' && mode === 'renames' ? it.fails : it;
          test(`killed ${when}: the app runs at 1.0.0 or 1.1.0 (never a mix), the next launch leaves nothing beside it and installs 1.1.0`, async () => {
            const { options, request, workDir } = await stagedInstall();
            let app: ChildProcess | undefined;
            if (step === 'waiting') {
              // The app is still running while the installer waits for it.
              app = spawn('sleep', ['600'], { stdio: 'ignore' });
              request.pid = app.pid!;
            }
            if (step === 'health') {
              // A relaunched app that has not confirmed its start yet (it dies with the installer's process group).
              request.relaunch = ['/bin/sleep', '600'];
              request.healthTimeoutMs = 60_000;
            }
            const installer = await installerStoppedAt(request, step, workDir, mode);
            killLater.push(installer);
            await killGroup(installer);
            if (app !== undefined) app.kill('SIGKILL');

            const afterKill = await versionIn(request.installDir);
            const runs = await runApp(request.installDir);
            const launch = await nextLaunch(options, request);
            summary.record({
              case: `installer (${mode}) killed ${when}`,
              expected: 'app runs (1.0.0 or 1.1.0); next launch: nothing beside it; 1.1.0',
              observed: `install ${afterKill}, runs: ${runs ?? 'NO'}; ${describeLaunch(launch)}`,
            });
            expect(['1.0.0', '1.1.0']).toContain(afterKill);
            expect(runs).toBe(afterKill);
            expect(['1.0.0', '1.1.0']).toContain(launch.recovered);
            expect(launch.leftBeside).toEqual([]);
            expect(launch.final).toBe('1.1.0');
            expect(await beside(request.installDir)).toEqual([]);
            expect(await runApp(request.installDir)).toBe('1.1.0');
          });
        }
      });
    }

    // SIGTERM (a log-off or shutdown) can be caught: the installer puts everything back as it was before it
    // started, hands the staged folder back, and the next launch installs it without downloading again.
    const terminated: [SwapMode, InstallStep, string][] = [
      ['exchange', 'backup', 'just after the exchange'],
      ['renames', 'swap', 'between the two renames'],
    ];
    for (const [mode, step, when] of terminated) {
      it.skipIf(mode === 'exchange' && HERE !== 'exchange')(`terminated (${mode}) ${when}: puts the old version back and hands the staged update back`, async () => {
        const { options, request, workDir } = await stagedInstall();
        const installer = await installerStoppedAt(request, step, workDir, mode);
        killLater.push(installer);
        await killGroup(installer, 'SIGTERM');

        const outcome = await installerResult(options.cacheDir);
        const afterTerm = await versionIn(request.installDir);
        const staged = await findStagedUpdate(options.cacheDir, '1.0.0');
        const stagedVersion = staged === undefined ? 'nothing' : await versionIn(staged.stagedDir);
        const left = await beside(request.installDir);
        const launch = await nextLaunch(options, request);
        summary.record({
          case: `installer (${mode}) terminated ${when}`,
          expected: 'failed interrupted; install 1.0.0; staged 1.1.0 kept; next launch installs it, no download',
          observed: `${outcome.status} ${outcome.reason ?? ''}; install ${afterTerm}; staged ${stagedVersion}${left.length > 0 ? `; left beside it: ${left.join(',')}` : ''}; ${describeLaunch(launch)}`,
        });
        expect(outcome).toEqual({ status: 'failed', version: '1.1.0', reason: 'interrupted' });
        expect(afterTerm).toBe('1.0.0');
        expect(stagedVersion).toBe('1.1.0');
        expect(left).toEqual([]);
        expect(launch.final).toBe('1.1.0');
        expect(launch.downloads).toBe(0);
      });
    }

    it('without the exchange, killed between the two renames: the old version waits intact as the backup; the next installer run puts it back and installs the new version it had taken', async () => {
      const { options, request, workDir } = await stagedInstall();
      const installer = await installerStoppedAt(request, 'swap', workDir, 'renames');
      killLater.push(installer);
      await killGroup(installer);
      const afterKill = await versionIn(request.installDir);
      const backup = await versionIn(join(dirname(request.installDir), '.tufapp.tufup-backup'));
      const incoming = await versionIn(join(dirname(request.installDir), '.tufapp.tufup-incoming'));
      const launch = await nextLaunch(options, request);
      const log = await readFile(join(request.cacheDir, 'install', 'install.log'), 'utf8');
      summary.record({
        case: 'installer (renames) killed between the renames, run again',
        expected: 'backup 1.0.0, incoming 1.1.0; the re-run restores 1.0.0, then installs 1.1.0 (health-checked), no download',
        observed: `install ${afterKill}, backup ${backup}, incoming ${incoming}; ${describeLaunch(launch)}`,
      });
      expect(afterKill).toBe('missing');
      expect(backup).toBe('1.0.0');
      expect(incoming).toBe('1.1.0');
      expect(log).toContain('restoring the install folder from a backup left by an interrupted attempt');
      expect(log).toContain('took the staged folder back');
      expect(launch).toMatchObject({ repaired: true, recovered: '1.1.0', leftBeside: [], final: '1.1.0', downloads: 0 });
      expect(await readFailedVersions(request.cacheDir)).toEqual([]);
    });

    describe('at random moments over the whole run', () => {
      const random = seededRandom(SEED);

      for (const mode of ['exchange', 'renames'] as const) {
        it.skipIf(mode === 'exchange' && HERE !== 'exchange')(
          `${mode === 'exchange' ? 'one atomic exchange' : 'two renames'}: after ${KILLS} kills at random moments the install is the old or the new tree, the next launch leaves nothing beside it, and the update completes`,
          async () => {
            /** One run of the installer through its health check, with the relaunched app confirming after 100 ms. */
            const prepared = async (): Promise<{ options: CoreOptions; request: InstallRequest }> => {
              const { options, request } = await stagedInstall();
              return { options, request: { ...request, relaunch: healthy(request.cacheDir, request.version), healthTimeoutMs: 20_000 } };
            };
            // How long a whole run takes here, and when it moves folders beside the install (watched with
            // inotify): half the kills are spread over the whole run (and a little past its end), half over
            // the moves, which take a few milliseconds of it.
            const calibration = await prepared();
            const moves: number[] = [];
            const began = Date.now();
            const watcher = watch(dirname(calibration.request.installDir), () => moves.push(Date.now() - began));
            const full = await startScript(calibration.request, mode);
            killLater.push(full);
            expect(await installerResult(calibration.request.cacheDir)).toEqual({ status: 'installed', version: '1.1.0' });
            const runMs = Date.now() - began;
            watcher.close();
            const firstMove = Math.max(0, (moves[0] ?? 0) - 5);
            const swapped = (moves.find((t, i) => i > 0 && t - (moves[i - 1] ?? t) > 20) ?? moves.at(-1) ?? runMs) + 5;

            const failures: string[] = [];
            for (let kill = 1; kill <= KILLS; kill++) {
              const { options, request } = await prepared();
              const at = Math.round(kill % 2 === 1 ? random() * runMs * 1.1 : firstMove + random() * (swapped - firstMove));
              const started = Date.now();
              const installer = await startScript(request, mode);
              killLater.push(installer);
              await new Promise((resolve) => setTimeout(resolve, Math.max(0, at - (Date.now() - started))));
              await killGroup(installer);
              const killedAt = Date.now() - started;
              const log = (await readFile(join(request.cacheDir, 'install', 'install.log'), 'utf8').catch(() => '')).trim().split('\n');
              const lastLine = (log.at(-1) ?? '').replace(/^\S+ \[\d+\] /, '').replaceAll(dirname(request.installDir), '…').replaceAll(request.cacheDir, '<cache>');
              const afterKill = await versionIn(request.installDir);
              const leftByKill = await beside(request.installDir);
              const journal = (await readFile(join(request.cacheDir, 'install', 'result'), 'utf8').catch(() => '')).trim();
              let observed: string;
              let launch: Launch | undefined;
              try {
                launch = await nextLaunch(options, request);
                observed = `install ${afterKill}${leftByKill.length > 0 ? ` + ${leftByKill.map((n) => n.replace(/^\.tufapp\.tufup-/, '')).join(',')}` : ''} [${journal}]; ${describeLaunch(launch)}`;
              } catch (error) {
                observed = `install ${afterKill} [${journal}]; next launch FAILED: ${String(error)}`;
              }
              randomKills.record({
                case: `${mode} #${kill}: kill at ${killedAt} ms of ~${runMs} (moves ${firstMove}-${swapped}), after "${lastLine}"`,
                expected: 'old or new; nothing beside after launch; final 1.1.0',
                observed,
              });
              const ok =
                launch !== undefined &&
                (['1.0.0', '1.1.0'].includes(afterKill) || (mode === 'renames' && afterKill === 'missing')) &&
                ['1.0.0', '1.1.0'].includes(launch.recovered) &&
                launch.leftBeside.length === 0 &&
                launch.final === '1.1.0' &&
                (await beside(request.installDir)).length === 0;
              if (!ok) failures.push(`kill #${kill} at ${killedAt} ms: ${observed}`);
            }
            expect(failures).toEqual([]);
          },
          600_000,
        );
      }
    });
  });
});
