import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/** One entry of a folder as the OS sees it: type, permission bits, content hash or link target. */
export type TreeEntry =
  | { type: 'file'; mode: number; sha256: string }
  | { type: 'directory'; mode: number }
  | { type: 'symlink'; target: string };

/** A folder by relative path (`/`-separated), in sorted order, so that equal trees also stringify equally. */
export type Tree = Record<string, TreeEntry>;

/** Reads a folder recursively with exact modes, content hashes and link targets, for comparing trees. */
export async function readTree(dir: string): Promise<Tree> {
  const tree: Tree = {};
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(rel === '' ? dir : join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(dir, path);
      const st = await lstat(full);
      if (st.isSymbolicLink()) tree[path] = { type: 'symlink', target: await readlink(full) };
      else if (st.isDirectory()) {
        tree[path] = { type: 'directory', mode: st.mode & 0o7777 };
        await walk(path);
      } else tree[path] = { type: 'file', mode: st.mode & 0o7777, sha256: sha256(await readFile(full)) };
    }
  };
  await walk('');
  return tree;
}

/** One hash of everything {@link readTree} sees: equal hashes mean byte-identical trees. */
export async function treeHash(dir: string): Promise<string> {
  return sha256(Buffer.from(JSON.stringify(await readTree(dir))));
}

/** Every file and link below `dir` (relative, sorted), or [] when `dir` does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const tree: Tree = await readTree(dir).catch(() => ({}));
  return Object.keys(tree).filter((path) => tree[path]?.type !== 'directory');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
