import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// Loads an entry of the package in a fresh Node process whose module resolution refuses 'electron', as
// in a plain Node script, a test runner or a build tool that bundles the core without Electron.
const LOADER = `
import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'electron' || specifier.startsWith('electron/')) throw new Error('electron imported by ' + context.parentURL);
    return next(specifier, context);
  },
});
const entry = await import(process.argv[1]);
console.log(JSON.stringify(Object.keys(entry).sort()));
`;

async function load(entry: string): Promise<{ exports?: string[]; error?: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', LOADER, entry], { cwd: import.meta.dirname });
    return { exports: JSON.parse(stdout) as string[] };
  } catch (error) {
    return { error: (error as { stderr?: string }).stderr ?? String(error) };
  }
}

// Loads the main entry with 'electron' replaced by empty objects and everything it must not load at
// import refused: electron-log (an optional peer, loaded only when the updater needs a default logger),
// and the patch engine and tuf-js (only their error classes; the main process only hands work to the worker; the engine's zstd
// imports would not even link on an older Electron, which must get UNSUPPORTED_RUNTIME instead).
const LIGHT_LOADER = `
import { registerHooks } from 'node:module';
const ELECTRON = 'data:text/javascript,' + encodeURIComponent('export const app = {}, ipcMain = {}, Notification = class {}, utilityProcess = {};');
registerHooks({
  resolve(specifier, context, next) {
    if (specifier === 'electron') return { url: ELECTRON, shortCircuit: true };
    if (/^(electron-log|tuf-js$|@tufjs\\/models$|@tufup\\/bundle$)/.test(specifier)) throw new Error(specifier + ' imported by ' + context.parentURL);
    return next(specifier, context);
  },
});
const entry = await import(process.argv[1]);
console.log(JSON.stringify(Object.keys(entry).sort()));
`;

async function loadLight(entry: string): Promise<{ exports?: string[]; error?: string }> {
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', LIGHT_LOADER, entry], { cwd: import.meta.dirname });
    return { exports: JSON.parse(stdout) as string[] };
  } catch (error) {
    return { error: (error as { stderr?: string }).stderr ?? String(error) };
  }
}

describe('what the main entries load at import', () => {
  it('neither electron-log, nor tuf-js, nor the patch engine', async () => {
    expect(await loadLight('@tufup/electron-client')).toEqual({ exports: expect.arrayContaining(['createUpdater', 'TufupUpdater', 'UpdateError']) as unknown });
  });

  it('the electron-updater compatible entry neither, and it makes no updater until used (the stand-in ipcMain has no handle)', async () => {
    expect(await loadLight('@tufup/electron-client/compat')).toEqual({ exports: expect.arrayContaining(['autoUpdater', 'CancellationToken', 'AppUpdater']) as unknown });
  });
});

describe('the entries that work without Electron', () => {
  it('@tufup/electron-client/core loads without electron', async () => {
    expect(await load('@tufup/electron-client/core')).toEqual({ exports: expect.arrayContaining(['UpdateClient', 'findStagedUpdate', 'UpdateError', 'DEFAULTS']) as unknown });
  });

  it('@tufup/electron-client/install loads without electron and offers the installer handoff', async () => {
    expect(await load('@tufup/electron-client/install')).toEqual({
      exports: expect.arrayContaining(['startInstaller', 'installerCommand', 'installFiles', 'shippedScript', 'readInstallOutcome', 'writeHealthMarker']) as unknown,
    });
  });

  it('while the main entry, which drives Electron, is refused by the same loader', async () => {
    expect((await load('@tufup/electron-client')).error).toMatch(/electron imported by .*electron-adapter/);
  });
});
