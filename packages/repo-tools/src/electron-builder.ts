/**
 * `@tufup/repo-tools/electron-builder`: electron-builder hooks that add what a build packaged to the
 * update repository, as one release.
 *
 *   "build": {
 *     "afterPack": "@tufup/repo-tools/electron-builder",
 *     "afterAllArtifactBuild": "@tufup/repo-tools/electron-builder",
 *     "extraResources": [{ "from": "updates/tufup.json", "to": "tufup.json" }]
 *   }
 *
 * Why both hooks: `afterAllArtifactBuild` runs once, after every platform/arch was packed, signed (and
 * notarized) and every installer was made, so the release holds exactly what users install and is added
 * only when the whole build succeeded. But its BuildResult does not say which folder holds which arch;
 * `afterPack` does, once per platform/arch, so it records that (and checks the trust file is in the app,
 * failing the build before any signing or installer work when it is not).
 */
import { relative } from 'node:path';
import { TRUST_FILE } from '@tufup/bundle';
import { RepoError } from './error.js';
import { addPackagedRelease, checkPackagedTrust, findMacApp, isDirectory, nodeArchsOf, shipSettings, type PackagedApp, type ShipOptions } from './packaged.js';
import type { AddResult } from './release.js';

/** electron-builder's `Arch` enum (builder-util), by value. */
const ARCH_NAMES: readonly string[] = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

/** What the hooks read of electron-builder's `AfterPackContext` (app-builder-lib). */
export interface AfterPackInfo {
  readonly appOutDir: string;
  readonly electronPlatformName: string;
  /** builder-util's `Arch` enum value. */
  readonly arch: number;
  readonly packager: {
    readonly projectDir: string;
    /** The build's configuration object; the same object reaches `afterAllArtifactBuild`. */
    readonly config: object;
    readonly appInfo: { readonly productFilename: string; readonly version: string };
  };
}

/** What the hooks read of electron-builder's `BuildResult` (app-builder-lib). */
export interface BuildResultInfo {
  readonly outDir: string;
  readonly configuration: object;
}

/** Options of {@link tufupHooks}: where the repository and keys are, notes, `required` ({@link ShipOptions}). */
export type ElectronBuilderOptions = ShipOptions;

/** The two hooks, and the `extraResources` entry that ships the trust file. */
export interface ElectronBuilderHooks {
  readonly afterPack: (context: AfterPackInfo) => Promise<void>;
  /** Returns no extra files for electron-builder's own publishers: the update repository is published apart. */
  readonly afterAllArtifactBuild: (result: BuildResultInfo) => Promise<string[]>;
  /** `{ from: "<repoDir>/tufup.json", to: "tufup.json" }`, for `extraResources` (when `repoDir` was given). */
  readonly extraResource: { from: string; to: string } | undefined;
  /** What the last build added. */
  readonly added: readonly AddResult[];
}

interface Recorded {
  projectDir: string;
  version: string;
  apps: (PackagedApp & { appOutDir: string })[];
}

/**
 * Hooks with options instead of environment variables, for a JavaScript config:
 *
 *   const hooks = tufupHooks({ repoDir: 'updates', releaseNotesFile: 'CHANGES.md' });
 *   module.exports = { afterPack: hooks.afterPack, afterAllArtifactBuild: hooks.afterAllArtifactBuild,
 *                      extraResources: [hooks.extraResource] };
 */
export function tufupHooks(options: ElectronBuilderOptions = {}): ElectronBuilderHooks {
  // Keyed by the build's configuration object, which both hooks receive: one entry per build.
  const builds = new WeakMap<object, Recorded>();
  let added: AddResult[] = [];
  const extraResource = options.repoDir === undefined ? undefined : { from: `${options.repoDir.replace(/[\\/]+$/, '')}/${TRUST_FILE}`, to: TRUST_FILE };

  return {
    extraResource,
    get added() {
      return added;
    },

    afterPack: async (context) => {
      const { packager } = context;
      const settings = await shipSettings(options, packager.projectDir);
      if (settings.skip) return;
      const platform = context.electronPlatformName;
      const arch = ARCH_NAMES[context.arch];
      if (arch === undefined) throw new RepoError('USAGE', `electron-builder packed an arch tufup does not know (${context.arch})`);
      if (platform === 'mas') {
        settings.logger.warn(`${context.appOutDir} is a Mac App Store build: the App Store updates it, so it is not added`);
        return;
      }
      const installDir = platform === 'darwin' ? await findMacApp(context.appOutDir, packager.appInfo.productFilename) : context.appOutDir;
      const entry = `${relative(packager.projectDir, settings.repoDir).split('\\').join('/') || '.'}/${TRUST_FILE}`;
      await checkPackagedTrust(
        settings,
        { installDir, platform },
        `Ship it with "extraResources": [{ "from": "${entry}", "to": "${TRUST_FILE}" }] in the electron-builder config`,
      );
      const recorded = builds.get(packager.config) ?? { projectDir: packager.projectDir, version: packager.appInfo.version, apps: [] };
      builds.set(packager.config, recorded);
      recorded.apps.push({ installDir, platform, archs: nodeArchsOf(arch), exact: arch !== 'universal', appOutDir: context.appOutDir });
    },

    afterAllArtifactBuild: async (result) => {
      const recorded = builds.get(result.configuration);
      builds.delete(result.configuration);
      const settings = await shipSettings(options, recorded?.projectDir ?? process.cwd());
      if (settings.skip) return [];
      if (recorded === undefined) {
        throw new RepoError(
          'USAGE',
          'tufup: nothing was recorded for this build: set "afterPack" to "@tufup/repo-tools/electron-builder" as well as "afterAllArtifactBuild"',
        );
      }
      // A universal macOS build packs each arch in a temporary folder first (removed again): not an app.
      const apps: PackagedApp[] = [];
      for (const app of recorded.apps) if (await isDirectory(app.installDir)) apps.push(app);
      added = await addPackagedRelease(settings, apps, recorded.version);
      for (const r of added) {
        const patch = r.patch === undefined ? 'no patch (first version)' : `patch from ${r.patch.base}: ${r.patch.size} bytes`;
        settings.logger.info(`added ${r.name} ${r.version} for ${r.platform}-${r.arch}: archive ${r.archive.size} bytes, ${patch}`);
      }
      return [];
    },
  };
}

/** The hooks configured from environment variables ({@link SHIP_ENV}, `TUFUP_KEYS_DIR`, `TUFUP_KEY_*`). */
const fromEnvironment = tufupHooks();

/** electron-builder's `afterPack` hook: `"afterPack": "@tufup/repo-tools/electron-builder"`. */
export const afterPack = (context: AfterPackInfo): Promise<void> => fromEnvironment.afterPack(context);
/** electron-builder's `afterAllArtifactBuild` hook: `"afterAllArtifactBuild": "@tufup/repo-tools/electron-builder"`. */
export const afterAllArtifactBuild = (result: BuildResultInfo): Promise<string[]> => fromEnvironment.afterAllArtifactBuild(result);

export { SHIP_ENV, type ShipOptions } from './packaged.js';
