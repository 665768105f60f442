/**
 * Deletes what `tsc -b` left in a package's dist/ for a source file that no longer exists (tsc never
 * removes outputs). Run before every build (`npm run build`), so a renamed or deleted module can
 * neither be imported by a test nor end up in a tarball `npm pack` makes.
 *
 *   node_modules/.bin/node scripts/prune-dist.ts
 */
import { existsSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const OUTPUTS = ['.d.ts.map', '.js.map', '.d.ts', '.js'];

async function prune(dist: string, src: string, dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await prune(dist, src, path);
      if ((await readdir(path)).length === 0) await rmdir(path);
      continue;
    }
    const ext = OUTPUTS.find((e) => entry.name.endsWith(e));
    if (ext === undefined) continue; // .tsbuildinfo, and anything not made from a source file
    const source = join(src, relative(dist, path)).slice(0, -ext.length);
    if (!existsSync(`${source}.ts`) && !existsSync(`${source}.mts`)) {
      await rm(path);
      console.log(`prune-dist: removed ${relative(ROOT, path)} (no ${relative(ROOT, source)}.ts)`);
    }
  }
}

for (const name of await readdir(join(ROOT, 'packages'))) {
  const dist = join(ROOT, 'packages', name, 'dist');
  if (existsSync(dist)) await prune(dist, join(ROOT, 'packages', name, 'src'), dist);
}
