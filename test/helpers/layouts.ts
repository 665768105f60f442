// Install layouts of the platforms this machine cannot run, built as their packagers build them, so that
// the real publisher, client core and installer can update them here on Linux.
import { linkFrameworkVersions, put } from '@tufup/testkit';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const plist = (name: string, id: string, version: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>CFBundleExecutable</key><string>${name}</string><key>CFBundleIdentifier</key><string>${id}</string><key>CFBundleShortVersionString</key><string>${version}</string></dict></plist>\n`;

/** What codesign writes into `_CodeSignature/CodeResources`: a hash of each sealed file (a stand-in, version dependent). */
const codeResources = (sealed: Record<string, string>): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict><key>files2</key><dict>${Object.entries(sealed)
    .map(([file, content]) => `<key>${file}</key><data>${createHash('sha256').update(content).digest('base64')}</data>`)
    .join('')}</dict></dict></plist>\n`;

/** Some bytes that stand for a Mach-O binary of `name` at `version`. */
const binary = (name: string, version: string, size: number): Buffer => {
  const bytes = Buffer.alloc(size);
  let seed = createHash('sha256').update(name).digest();
  for (let i = 0; i < size; i += 32) {
    seed = createHash('sha256').update(seed).digest();
    seed.copy(bytes, i);
  }
  bytes.write(`\xcf\xfa\xed\xfe ${name} ${version}`, 0);
  return bytes;
};

export const MAC_HELPERS = ['My App Helper', 'My App Helper (GPU)', 'My App Helper (Plugin)', 'My App Helper (Renderer)'];

/**
 * A signed-looking `My App.app` of `version` as electron-builder packs it on macOS: the main executable,
 * the app in `Contents/Resources/app.asar`, `Electron Framework.framework` with its `Versions/Current`
 * symlinks, the helper apps, executable bits, and a `_CodeSignature/CodeResources` in the app, each
 * helper and the framework version. Returns the `.app` folder.
 */
export async function macApp(parent: string, version: string): Promise<string> {
  const app = join(parent, 'My App.app');
  const contents = join(app, 'Contents');
  const asar = `asar of My App ${version}\n`.repeat(2000);
  const main = binary('My App', version, 48 * 1024);
  await put(join(contents, 'Info.plist'), plist('My App', 'com.example.myapp', version));
  await put(join(contents, 'PkgInfo'), 'APPL????');
  await put(join(contents, 'MacOS', 'My App'), main, 0o755);
  await put(join(contents, 'Resources', 'app.asar'), asar);
  await put(join(contents, 'Resources', 'icon.icns'), Buffer.alloc(2048, 7));
  await put(join(contents, 'Resources', 'fr.lproj', 'InfoPlist.strings'), 'CFBundleName = "Mon App";\n');
  await put(join(contents, 'Resources', 'tufup.json'), '{"schema":1}\n');
  const framework = join(contents, 'Frameworks', 'Electron Framework.framework');
  const frameworkBinary = binary('Electron Framework', '45.4.1', 64 * 1024);
  await put(join(framework, 'Versions', 'A', 'Electron Framework'), frameworkBinary, 0o755);
  await put(join(framework, 'Versions', 'A', 'Resources', 'Info.plist'), plist('Electron Framework', 'com.github.Electron.framework', '45.4.1'));
  await put(join(framework, 'Versions', 'A', 'Libraries', 'libffmpeg.dylib'), binary('libffmpeg', '45.4.1', 8 * 1024), 0o755);
  await put(join(framework, 'Versions', 'A', '_CodeSignature', 'CodeResources'), codeResources({ 'Resources/Info.plist': version }));
  await linkFrameworkVersions(framework, 'Electron Framework');
  for (const helper of MAC_HELPERS) {
    const helperContents = join(contents, 'Frameworks', `${helper}.app`, 'Contents');
    await put(join(helperContents, 'Info.plist'), plist(helper, 'com.example.myapp.helper', version));
    await put(join(helperContents, 'MacOS', helper), binary(helper, version, 4 * 1024), 0o755);
    await put(join(helperContents, '_CodeSignature', 'CodeResources'), codeResources({ [`MacOS/${helper}`]: version }));
  }
  await put(join(contents, '_CodeSignature', 'CodeResources'), codeResources({ 'Resources/app.asar': asar, 'MacOS/My App': main.toString('base64') }));
  return app;
}

/**
 * `win-unpacked` of `version` as electron-builder leaves it for a Windows x64 build: the executable, DLLs,
 * locales and `resources/app.asar`. `extra` adds files (1.1.0 ships `resources/elevate.exe`, which
 * electron-builder copies into win-unpacked after the NSIS build). Returns the folder.
 */
export async function winUnpacked(dir: string, version: string, extra: Record<string, string> = {}): Promise<string> {
  await put(join(dir, 'My App.exe'), binary('My App.exe', version, 32 * 1024), 0o755);
  await put(join(dir, 'ffmpeg.dll'), binary('ffmpeg.dll', '45.4.1', 8 * 1024), 0o755);
  await put(join(dir, 'resources', 'app.asar'), `asar of My App ${version}\n`.repeat(1500));
  await put(join(dir, 'resources', 'tufup.json'), '{"schema":1}\n');
  await put(join(dir, 'locales', 'en-US.pak'), `en-US ${version}\n`);
  // A locale the app dropped in 1.1.0: an update must not keep it.
  if (version === '1.0.0') await put(join(dir, 'locales', 'fr.pak'), 'fr\n');
  await put(join(dir, 'LICENSE.electron.txt'), 'MIT\n');
  for (const [path, content] of Object.entries(extra)) await put(join(dir, path), content, path.endsWith('.exe') ? 0o755 : 0o644);
  return dir;
}

/** What electron-builder's NSIS installer adds to a per-user install folder (templates/nsis; see NSIS_KEEP). */
export const NSIS_ADDS: Record<string, string> = {
  'Uninstall My App.exe': 'MZ the uninstaller NSIS wrote\n',
  'uninstallerIcon.ico': 'an icon\n',
  'resources/package-type': 'nsis',
  'resources/elevate.exe': 'MZ elevate.exe from the installer archive\n',
};

/**
 * A stand-in AppImage of `version`: one executable file (a shell script that prints its version, then a
 * payload standing for the squashfs image, mostly the same from one version to the next).
 */
export async function appImage(path: string, version: string): Promise<string> {
  const head = Buffer.from(`#!/bin/sh\necho "My App ${version}"\nexit 0\n`);
  const payload = binary('squashfs', '1', 96 * 1024);
  payload.write(`app.asar of ${version}`, 40 * 1024);
  await put(path, Buffer.concat([head, payload]), 0o755);
  return path;
}
