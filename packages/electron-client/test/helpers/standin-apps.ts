import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { healthMarkerPath } from '../../src/install/installer.js';
import { readInstallOutcome, type InstallOutcome } from '../../src/install/outcome.js';
import type { UpdaterOptions } from '../../src/main/config.js';
import { TufupUpdater } from '../../src/main/updater.js';
import { waitFor } from '@tufup/testkit';
import { APP, type TestRepo } from '@tufup/testkit/repo';
import { StandinElectron } from '../standin/electron.js';

/** One installed app: its install folder, user data, and the resources folder the pretend Electron reports. */
export interface InstalledApp {
  installDir: string;
  userData: string;
  resources: string;
  /** Where the updater's defaults put the cache: `<home>/.cache/<userData folder name>/tufup`. */
  cacheDir: string;
}

/** An updater and the stand-in Electron it runs in. */
export interface Launched {
  updater: TufupUpdater;
  electron: StandinElectron;
}

/** What {@link useStandinApps} gives a suite. */
export interface StandinApps {
  /** A running "app" process: what the installer waits for, or the version whose health it checks. */
  appProcess: () => ChildProcess;
  /** Installs `version` as an installer would, with the trust file `tufup-repo init` wrote in its resources. */
  installApp: (version: string) => Promise<InstalledApp>;
  /** Starts the app: a stand-in Electron and the updater as `createUpdater` makes it, with the suite's default options. */
  launch: (version: string, app: InstalledApp, pid: number, options?: Partial<UpdaterOptions>) => Launched;
  /** Has an updater and stand-in made by the test itself disposed of after the test, as {@link launch}'s are. */
  track: (updater: TufupUpdater, electron: StandinElectron) => void;
  /** The installer run's final result (not `started`), once it has one. */
  outcome: (cacheDir: string) => Promise<InstallOutcome>;
  /** What a relaunched new version does when it starts well: `markHealthy()` writes this marker. */
  healthyRelaunch: (cacheDir: string, version: string) => string[];
  /** A path in the repository's temp folder that nothing has used yet (not created). */
  freshPath: (name: string) => string;
}

/**
 * Installed apps run by the main-process updater in a stand-in Electron, with the real worker and the
 * real installer, against the repository `fixture()` returns. After each test of the calling `describe`,
 * every updater is disposed of, every stand-in's workers and every app process are killed.
 */
export function useStandinApps(fixture: () => TestRepo, defaults: Partial<UpdaterOptions> = {}): StandinApps {
  let counter = 0;
  const updaters: TufupUpdater[] = [];
  const stand: StandinElectron[] = [];
  const processes: ChildProcess[] = [];

  afterEach(() => {
    for (const updater of updaters.splice(0)) updater.dispose();
    for (const electron of stand.splice(0)) electron.killWorkers();
    for (const child of processes.splice(0)) child.kill('SIGKILL');
  });

  const track = (updater: TufupUpdater, electron: StandinElectron): void => {
    updaters.push(updater);
    stand.push(electron);
  };

  return {
    appProcess: () => {
      const child = spawn('sleep', ['300'], { stdio: 'ignore' });
      processes.push(child);
      return child;
    },
    installApp: async (version) => {
      const repo = fixture();
      const installDir = await repo.install(version);
      const resources = join(repo.tmp, `resources-${++counter}`);
      await mkdir(resources, { recursive: true });
      // Where the default options look for the trust file: the one `tufup-repo init` wrote.
      await copyFile(join(repo.repoDir, 'tufup.json'), join(resources, 'tufup.json'));
      const name = `userData-${counter}`;
      // The default cache folder (the stand-in's home is beside userData).
      return { installDir, userData: join(repo.tmp, name), resources, cacheDir: join(repo.tmp, 'home', '.cache', name, 'tufup') };
    },
    launch: (version, app, pid, options = {}) => {
      const electron = new StandinElectron({ name: APP, version, userData: app.userData, resourcesPath: app.resources, execPath: join(app.installDir, APP), pid });
      // No workerPath: the updater writes the worker it carries into its cache and starts it from there.
      const updater = new TufupUpdater({ url: fixture().server.url, stallTimeoutMs: 5_000, ...defaults, ...options }, electron);
      track(updater, electron);
      return { updater, electron };
    },
    track,
    outcome: (cacheDir) =>
      waitFor(async () => {
        const result = await readInstallOutcome(cacheDir);
        return result !== undefined && result.status !== 'started' ? result : undefined;
      }, 'the installer result'),
    healthyRelaunch: (cacheDir, version) => ['/bin/sh', '-c', 'touch "$1"', 'sh', healthMarkerPath(cacheDir, version)],
    freshPath: (name) => join(fixture().tmp, `${name}-${++counter}`),
  };
}
