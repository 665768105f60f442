import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Deterministic pseudo-random bytes: incompressible, and the same for the same seed. */
export function noise(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** What a bundle of one version looks like. */
export interface BundleShape {
  /** Size of the big, mostly unchanging resource. @default 192 KiB */
  assetSize?: number;
  /** Fresh content in the big resource, so no patch can reuse the previous version. */
  churn?: boolean;
}

/**
 * Writes a small but realistic app bundle that can be run: `sh <dir>/app` prints its version after
 * checking that every file of its own version is there (so a half-swapped folder is not runnable). Also a
 * big resource that changes a little between versions (as in a real update), a versioned library with a
 * symlink to it, nested folders and an empty one.
 */
export async function writeBundle(dir: string, version: string, shape: BundleShape = {}): Promise<string> {
  await mkdir(join(dir, 'resources', 'locales'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await mkdir(join(dir, 'empty'), { recursive: true });
  const launcher = [
    '#!/bin/sh',
    'here=$(cd "$(dirname "$0")" && pwd)',
    `grep -q '"version":"${version}"' "$here/resources/locales/en.json" || exit 3`,
    `grep -qx '${version}' "$here/version.txt" || exit 3`,
    `test -f "$here/resources/app.asar" && test -L "$here/lib/libhelper.so" || exit 3`,
    `echo ${version}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'app'), launcher);
  await chmod(join(dir, 'app'), 0o755);
  const asset = noise(shape.churn === true ? `asset-${version}` : 'asset', shape.assetSize ?? 192 * 1024);
  // A few bytes per version change, as in a real app update.
  asset.write(`version ${version}`, 1000);
  await writeFile(join(dir, 'resources', 'app.asar'), asset);
  await writeFile(join(dir, 'resources', 'locales', 'en.json'), JSON.stringify({ version, greeting: 'hello' }));
  await writeFile(join(dir, 'lib', 'libhelper.so.1'), noise(`lib-${version}`, 4 * 1024));
  await chmod(join(dir, 'lib', 'libhelper.so.1'), 0o755);
  await symlink('libhelper.so.1', join(dir, 'lib', 'libhelper.so'));
  await writeFile(join(dir, 'version.txt'), `${version}\n`);
  return dir;
}

/** Runs an installed {@link writeBundle} app the way a user would; its version, or undefined when it does not run. */
export async function runApp(installDir: string): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('/bin/sh', [join(installDir, 'app')], { timeout: 10_000 });
    return stdout.trim();
  } catch {
    return undefined;
  }
}
