import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What a stand-in app does when started: confirm a healthy start, crash, or hang without confirming. */
export type AppBehaviour = 'healthy' | 'crash' | 'hang';

// A stand-in for an installed Electron app: a folder with a launcher script, a version file and a data
// file. Started as `sh <install>/app.sh <outDir> <markerDir>`, it appends "<version> <pid>" to
// <outDir>/launches and, when healthy, writes <markerDir>/healthy-<version> the way markHealthy() does.
const LAUNCHER = `#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
out=$1
markers=$2
version=$(cat "$here/version")
echo "$version $$" >>"$out/launches"
case $(cat "$here/behaviour") in
  crash) exit 3 ;;
  healthy) mkdir -p "$markers" && date >"$markers/healthy-$version" ;;
esac
# Stay running like an app would, until the test ends it.
exec sleep 300
`;

/** Writes a runnable stand-in install of `version` into `dir`. */
export async function writeStandinApp(dir: string, version: string, behaviour: AppBehaviour): Promise<void> {
  await mkdir(join(dir, 'resources'), { recursive: true });
  await writeFile(join(dir, 'app.sh'), LAUNCHER);
  await chmod(join(dir, 'app.sh'), 0o755);
  await writeFile(join(dir, 'version'), version);
  await writeFile(join(dir, 'behaviour'), behaviour);
  await writeFile(join(dir, 'resources', 'app.asar'), `payload of ${version}\n`.repeat(64));
}

/** The relaunch command of a stand-in install. */
export function standinCommand(installDir: string, outDir: string, markerDir: string): string[] {
  return ['/bin/sh', join(installDir, 'app.sh'), outDir, markerDir];
}

/** Runs the install once the way a user would and returns the version it reports, proving it is runnable. */
export async function runStandin(installDir: string): Promise<string> {
  const child = spawn('/bin/sh', ['-c', 'cat "$1/version" && test -x "$1/app.sh"', 'sh', installDir], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the install in ${installDir} is not runnable`);
  return out.trim();
}

/** Launches recorded by stand-in apps: version and pid, in order. */
export async function launches(outDir: string): Promise<{ version: string; pid: number }[]> {
  const text = await readFile(join(outDir, 'launches'), 'utf8').catch(() => '');
  return text
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [version = '', pid = '0'] = line.split(' ');
      return { version, pid: Number(pid) };
    });
}

/** Ends every stand-in app that was launched into `outDir`. */
export async function stopLaunched(outDir: string): Promise<void> {
  for (const { pid } of await launches(outDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
