import { mkdir } from 'node:fs/promises';
import { linkFrameworkVersions, put } from '@tufup/testkit';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Stand-in Electron distributions, laid out as Electron's release zips unpack, for electron-builder's
 * `electronDist` and @electron/packager's `electronZipDir`: the real packagers run over them here, where
 * Electron's binaries cannot be downloaded. Executables are small scripts (on Windows a minimal valid PE
 * with version info, which electron-builder edits); everything else a packager touches is where it looks.
 */

export const ELECTRON_VERSION = '45.4.1';

/** The helper apps Electron ships inside its Frameworks folder. */
const MAC_HELPERS = ['Electron Helper', 'Electron Helper (GPU)', 'Electron Helper (Plugin)', 'Electron Helper (Renderer)'];

function plist(name: string, id: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>CFBundleExecutable</key><string>${name}</string>
<key>CFBundleIdentifier</key><string>${id}</string>
<key>CFBundleName</key><string>${name}</string>
<key>CFBundleDisplayName</key><string>${name}</string>
<key>CFBundlePackageType</key><string>APPL</string>
<key>CFBundleVersion</key><string>${ELECTRON_VERSION}</string>
<key>CFBundleShortVersionString</key><string>${ELECTRON_VERSION}</string>
</dict></plist>
`;
}

const script = (name: string): string => `#!/bin/sh\necho "${name} stand-in $*"\n`;

/** Linux: `electron`, `resources/`, `locales/`, a shared library, `LICENSE`, `version`. */
export async function linuxElectron(dir: string): Promise<string> {
  await put(join(dir, 'electron'), script('electron'), 0o755);
  await put(join(dir, 'chrome-sandbox'), script('chrome-sandbox'), 0o755);
  await put(join(dir, 'libffmpeg.so'), Buffer.alloc(4096, 7));
  await put(join(dir, 'locales', 'en-US.pak'), 'en-US');
  await put(join(dir, 'resources.pak'), 'resources');
  await mkdir(join(dir, 'resources'), { recursive: true });
  await put(join(dir, 'LICENSE'), 'MIT');
  await put(join(dir, 'version'), ELECTRON_VERSION);
  return dir;
}

/**
 * A minimal Windows executable with version info, made with the PE library electron-builder itself uses
 * (resolved from app-builder-lib), so electron-builder can rename it and edit its resources.
 */
function standInExe(): Uint8Array {
  interface ResEdit {
    NtExecutable: { createEmpty(is32Bit: boolean, isDll: boolean): { generate(): ArrayBuffer } };
    NtExecutableResource: { from(exe: unknown): { entries: unknown[]; outputResource(exe: unknown): void } };
    Resource: {
      VersionInfo: {
        createEmpty(): {
          lang: number;
          setStringValues(lang: { lang: number; codepage: number }, values: Record<string, string>): void;
          setFileVersion(a: number, b: number, c: number, d: number, lang: number): void;
          outputToResourceEntries(entries: unknown[]): void;
        };
      };
    };
  }
  const requireFromBuilder = createRequire(createRequire(import.meta.url).resolve('app-builder-lib'));
  const resedit = requireFromBuilder('resedit') as ResEdit;
  const exe = resedit.NtExecutable.createEmpty(false, false);
  const res = resedit.NtExecutableResource.from(exe);
  const info = resedit.Resource.VersionInfo.createEmpty();
  // As in Electron's exe: the resource itself is en-US, like its one string table (packagers edit both).
  info.lang = 1033;
  info.setStringValues({ lang: 1033, codepage: 1200 }, { ProductName: 'Electron', FileDescription: 'Electron' });
  info.setFileVersion(45, 4, 1, 0, 1033);
  info.outputToResourceEntries(res.entries);
  res.outputResource(exe);
  return new Uint8Array(exe.generate());
}

/** Windows: `electron.exe`, DLLs, `resources/`, `locales/`. */
export async function windowsElectron(dir: string): Promise<string> {
  await put(join(dir, 'electron.exe'), standInExe());
  await put(join(dir, 'ffmpeg.dll'), Buffer.alloc(4096, 9));
  await put(join(dir, 'd3dcompiler_47.dll'), Buffer.alloc(2048, 3));
  await put(join(dir, 'locales', 'en-US.pak'), 'en-US');
  await mkdir(join(dir, 'resources'), { recursive: true });
  await put(join(dir, 'LICENSE'), 'MIT');
  await put(join(dir, 'version'), ELECTRON_VERSION);
  return dir;
}

/**
 * macOS: `Electron.app` with the framework's `Versions/Current` symlinks, the helper apps and an
 * executable in each, as Electron's darwin zip holds it.
 */
export async function macElectron(dir: string): Promise<string> {
  const contents = join(dir, 'Electron.app', 'Contents');
  await put(join(contents, 'Info.plist'), plist('Electron', 'com.github.Electron'));
  await put(join(contents, 'PkgInfo'), 'APPL????');
  await put(join(contents, 'MacOS', 'Electron'), script('Electron'), 0o755);
  await put(join(contents, 'Resources', 'electron.icns'), Buffer.alloc(512, 1));
  const framework = join(contents, 'Frameworks', 'Electron Framework.framework');
  await put(join(framework, 'Versions', 'A', 'Electron Framework'), Buffer.alloc(8192, 5), 0o755);
  await put(join(framework, 'Versions', 'A', 'Resources', 'Info.plist'), plist('Electron Framework', 'com.github.Electron.framework'));
  await put(join(framework, 'Versions', 'A', 'Libraries', 'libffmpeg.dylib'), Buffer.alloc(4096, 6));
  await linkFrameworkVersions(framework, 'Electron Framework');
  for (const helper of MAC_HELPERS) {
    const helperContents = join(contents, 'Frameworks', `${helper}.app`, 'Contents');
    await put(join(helperContents, 'Info.plist'), plist(helper, 'com.github.Electron.helper'));
    await put(join(helperContents, 'MacOS', helper), script(helper), 0o755);
  }
  await put(join(dir, 'LICENSE'), 'MIT');
  await put(join(dir, 'version'), ELECTRON_VERSION);
  return dir;
}

/** Stand-ins for the three platforms under `dir` (`linux/`, `win32/`, `darwin/`). */
export async function electronDists(dir: string): Promise<Record<'linux' | 'win32' | 'darwin', string>> {
  return {
    linux: await linuxElectron(join(dir, 'linux')),
    win32: await windowsElectron(join(dir, 'win32')),
    darwin: await macElectron(join(dir, 'darwin')),
  };
}
