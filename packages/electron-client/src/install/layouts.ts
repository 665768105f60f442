/**
 * What installers leave in the install folder beside the app's own files, per platform: the files an
 * update keeps ({@link InstallRequest.keep}) unless the new bundle has them (docs/install-layouts.md).
 */

/**
 * electron-builder's NSIS target (per-user installs in `%LOCALAPPDATA%\Programs\<App>`) adds these to the
 * unpacked app: the uninstaller `Uninstall <App>.exe` (the uninstall registry key points at it), the
 * `uninstallerIcon` option's `uninstallerIcon.ico`, `resources\package-type` (`nsis` or `nsis-web`, read by
 * electron-updater) and `resources\elevate.exe` (in the installer's archive; the unpacked folder may not
 * have it when it is published). Read from electron-builder's templates/nsis (installSection.nsh,
 * include/installer.nsh, common.nsh) and nsisUtil.ts.
 */
export const NSIS_KEEP: readonly string[] = ['Uninstall *.exe', 'uninstallerIcon.ico', 'resources/package-type', 'resources/elevate.exe'];

/** The files an update keeps by default: NSIS's on Windows; none elsewhere (a .app, an unpacked Linux folder). */
export function keepDefaults(platform: NodeJS.Platform): readonly string[] {
  return platform === 'win32' ? NSIS_KEEP : [];
}
