// @ts-check
// The installed bundle's version check, runnable with plain Node (no Electron): prints "<name> <version>"
// from the package.json next to it. The terminal demo uses it in two more roles:
//   --wait                 stay running until terminated: the "running app" the installer waits for
//   --mark-healthy FILE    write FILE and exit: what the relaunched app's `updater.markHealthy()` does
import { readFileSync, writeFileSync } from 'node:fs';

/** @type {{ name: string, version: string }} */
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
console.log(`${pkg.name} ${pkg.version}`);

const args = process.argv.slice(2);
const marker = args.indexOf('--mark-healthy');
if (marker >= 0) {
  const file = args[marker + 1];
  if (file === undefined) throw new Error('--mark-healthy needs a file');
  writeFileSync(file, `${new Date().toISOString()}\n`);
}
if (args.includes('--wait')) {
  process.on('SIGTERM', () => process.exit(0));
  setInterval(() => undefined, 60_000);
}
