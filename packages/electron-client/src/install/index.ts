/**
 * `@tufup/electron-client/install`: hands a staged update to the installer script and reads how it
 * ended. Plain Node, no electron import, so scripts, tests and non-Electron apps can drive an install.
 */
export {
  healthMarkerPath,
  INSTALL_DEFAULTS,
  installerCommand,
  installFiles,
  installFolder,
  installerScript,
  shippedScript,
  startInstaller,
  type InstallFiles,
  type InstallRequest,
} from './installer.js';
export {
  addFailedVersion,
  clearInstallOutcome,
  installerRunning,
  readFailedVersions,
  readInstallOutcome,
  writeHealthMarker,
  type InstallOutcome,
  type InstallStatus,
} from './outcome.js';
export { keepDefaults, NSIS_KEEP } from './layouts.js';
export { recoverInterruptedInstall, leftoverPaths, type Recovery, type RecoveryAction, type RecoveryRequest } from './recovery.js';
