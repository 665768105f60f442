// Types of the generated dist/assets/installer.mjs (scripts/build.ts), imported as `#installer-scripts`.
import type { EmbeddedFile } from './embedded.js';

/** The installer scripts of install/: POSIX sh and PowerShell. */
export declare const INSTALLER_SCRIPTS: { readonly sh: EmbeddedFile; readonly ps1: EmbeddedFile };
