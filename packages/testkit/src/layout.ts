import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes `content` at `path` with `mode`, making its folders: one file of a packaged app laid out by hand. */
export async function put(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  await chmod(path, mode);
}

/**
 * The symlinks of a macOS framework bundle, as `Electron Framework.framework` has them:
 * `Versions/Current` -> `A`, and the binary, `Resources` and `Libraries` at the top through it.
 */
export async function linkFrameworkVersions(framework: string, binary: string): Promise<void> {
  await symlink('A', join(framework, 'Versions', 'Current'));
  await symlink(`Versions/Current/${binary}`, join(framework, binary));
  await symlink('Versions/Current/Resources', join(framework, 'Resources'));
  await symlink('Versions/Current/Libraries', join(framework, 'Libraries'));
}
