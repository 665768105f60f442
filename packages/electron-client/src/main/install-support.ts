import { accessSync, constants, existsSync, mkdtempSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join, win32 } from 'node:path';
import { errnoOf } from '@tufup/bundle/base';

/**
 * Why an install cannot update itself in place. Each has a line in docs/electron-client.md ("Where an
 * app can update itself") saying what the app's developer should do.
 */
export type UnsupportedReason =
  /** Started as `electron .`: the "install folder" would be Electron's own. */
  | 'unpackaged'
  /** Squirrel.Windows (`app-x.y.z` folders beside `Update.exe`): Squirrel switches versions itself. */
  | 'squirrel-windows'
  /** macOS runs a quarantined app from a random read-only copy (`/AppTranslocation/`). */
  | 'app-translocation'
  /** A read-only volume: a mounted DMG, a read-only share. */
  | 'read-only-volume'
  /** A root-owned system location: a deb/rpm under /opt or /usr, a macOS installer package. */
  | 'system-package'
  /** A per-machine Windows install under Program Files, which this user cannot write. */
  | 'program-files'
  /** The install folder or the folder around it is not writable by this user. */
  | 'not-writable';

/** The facts the decision is made from; {@link probeInstall} gathers them on the running system. */
export interface InstallFacts {
  platform: NodeJS.Platform;
  /** `app.isPackaged`. */
  packaged: boolean;
  /** The app gave `installDir` (e.g. to try updates in development). */
  installDirGiven: boolean;
  installDir: string;
  env: Readonly<Record<string, string | undefined>>;
  /** 'ok' when this user can write in the folder around the install folder and the folder itself, else the errno (`EACCES`, `EROFS`). */
  writable: string;
  /** Owner of the install folder (POSIX), and this process's user id. */
  ownerUid?: number | undefined;
  uid?: number | undefined;
  /** Windows: `Update.exe` lies beside the install folder (Squirrel.Windows). */
  updateExeBeside?: boolean;
}

/** Whether this install can update itself; when not, why, as a code and a sentence. */
export type InstallSupport = { supported: true } | { supported: false; reason: UnsupportedReason; message: string };

type Rule = (facts: InstallFacts) => [UnsupportedReason, string] | undefined;

/** Whether the install folder lies under one of the Program Files folders (paths compared case-insensitively, as Windows does). */
function underProgramFiles(facts: InstallFacts): boolean {
  const normal = (path: string): string => path.toLowerCase().replaceAll('/', '\\').replace(/\\+$/, '');
  const dir = normal(facts.installDir);
  return [facts.env.ProgramFiles, facts.env['ProgramFiles(x86)'], facts.env.ProgramW6432].some((root) => root !== undefined && root !== '' && dir.startsWith(`${normal(root)}\\`));
}

/**
 * The rules, in order; the first that matches decides. The layouts first (they cannot be updated in
 * place even when writable), then writability and why it fails. A layout that gains support loses its
 * line here (the AppImage did: it is updated as one file, `$APPIMAGE`).
 */
const RULES: readonly Rule[] = [
  (f) => (!f.packaged && !f.installDirGiven ? ['unpackaged', 'the app runs unpackaged (electron .); set installDir to try updates in development'] : undefined),
  (f) =>
    f.platform === 'win32' && /^app-\d+\.\d+\.\d+/.test(win32.basename(f.installDir)) && f.updateExeBeside === true
      ? ['squirrel-windows', `the app is installed by Squirrel.Windows (${f.installDir} beside Update.exe), which switches versions itself`]
      : undefined,
  (f) =>
    f.platform === 'darwin' && f.installDir.includes('/AppTranslocation/')
      ? ['app-translocation', `macOS runs the app from a read-only translocated copy (${f.installDir}); it must be moved to /Applications first`]
      : undefined,
  (f) => (f.writable === 'EROFS' ? ['read-only-volume', `the app runs from a read-only volume (${f.installDir})`] : undefined),
  (f) => (f.writable !== 'ok' && f.platform === 'win32' && underProgramFiles(f) ? ['program-files', `the app is installed for all users under Program Files (${f.installDir}), which this user cannot write`] : undefined),
  (f) =>
    f.writable !== 'ok' && f.platform !== 'win32' && f.ownerUid === 0 && f.uid !== 0
      ? ['system-package', `the app is installed in a system location owned by root (${f.installDir}): the system's package manager updates it`]
      : undefined,
  (f) => (f.writable !== 'ok' ? ['not-writable', `this user cannot write the install folder or the folder around it (${f.installDir}: ${f.writable})`] : undefined),
];

/** Decides from the facts alone (no file system), so every case is testable anywhere. */
export function installSupport(facts: InstallFacts): InstallSupport {
  for (const rule of RULES) {
    const found = rule(facts);
    if (found !== undefined) return { supported: false, reason: found[0], message: `this install cannot update itself: ${found[1]}` };
  }
  return { supported: true };
}

/**
 * Whether this user can write where the installer works: the install folder (access check only: nothing
 * is ever written inside it, where a leftover would break a macOS code signature) and the folder around
 * it, where the installer renames folders (a real write: a temporary folder, removed at once).
 */
export function writeProbe(installDir: string): string {
  try {
    accessSync(installDir, constants.W_OK);
    const probe = mkdtempSync(join(dirname(installDir), `.${basename(installDir)}.tufup-probe-`));
    rmdirSync(probe);
    return 'ok';
  } catch (error) {
    return errnoOf(error) ?? 'EACCES';
  }
}

/** Gathers {@link InstallFacts} on the running system. */
export function probeInstall(input: Pick<InstallFacts, 'platform' | 'packaged' | 'installDirGiven' | 'installDir' | 'env'>): InstallFacts {
  const facts: InstallFacts = { ...input, writable: 'ok' };
  // Unpackaged without installDir: nothing to look at (the folder is Electron's own).
  if (!input.packaged && !input.installDirGiven) return facts;
  facts.writable = writeProbe(input.installDir);
  try {
    facts.ownerUid = statSync(input.installDir).uid;
  } catch {
    // Missing: the write probe said so.
  }
  facts.uid = process.getuid?.();
  if (input.platform === 'win32') facts.updateExeBeside = existsSync(join(dirname(input.installDir), 'Update.exe'));
  return facts;
}

