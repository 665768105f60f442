import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { satisfies } from 'semver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, NODE, ROOT, runCli, tempDir } from './helpers/fixtures.js';

const PACKAGES = ['bundle', 'repo-tools', 'electron-client'];

/** The floor as the program states it to users: `needs Node >= A or B`. */
function statedFloor(): string[] {
  const match = /needs Node >= (\d+\.\d+\.\d+) or (\d+\.\d+\.\d+)/.exec(readFileSync(CLI, 'utf8'));
  if (match === null) throw new Error(`${CLI} does not state the Node versions it needs`);
  return [match[1]!, match[2]!];
}

function enginesOf(pkg: string): string {
  const json = JSON.parse(readFileSync(join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  return json.engines?.node ?? '';
}

/** A Node on this machine older than the floor (the system Node here is 20), or why there is none. */
function oldNode(): { path: string; version: string } | string {
  const candidates = ['/usr/bin/node', '/usr/local/bin/node', ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'node'))];
  for (const path of new Set(candidates)) {
    if (path.includes('node_modules') || !existsSync(path)) continue;
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    if (!satisfies(version, enginesOf('repo-tools'))) return { path, version };
  }
  return 'no Node older than the floor on this machine (looked in /usr/bin, /usr/local/bin and $PATH)';
}

function run(node: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(node, [CLI, ...args], { cwd, env: { PATH: process.env.PATH } }, (error, stdout, stderr) => {
      resolvePromise({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

describe('the tufup-repo program (bin/tufup-repo.js)', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir: tmp, cleanup } = await tempDir()));
  afterAll(() => cleanup());

  const old = oldNode();
  it.skipIf(typeof old === 'string')(`on an older Node, says which Node it needs and exits 2 without doing anything${typeof old === 'string' ? ` (skipped: ${old})` : ''}`, async () => {
    if (typeof old === 'string') return;
    const repo = join(tmp, 'repo');
    const result = await run(old.path, ['init', '--repo', repo, '--app-name', 'demo'], tmp);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')[0]).toBe(`tufup-repo needs Node >= 24.6.0 or 22.19.0 (this is Node ${old.version})`);
    expect(result.stderr).not.toMatch(/SyntaxError|createZstd/);
    expect(existsSync(repo)).toBe(false);
  });

  it("on the project's Node, runs the CLI and passes its exit code through", async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('tufup-repo: create, sign and publish');
    expect((await runCli(['frobnicate'])).code).toBe(2);
    const failed = await runCli(['status', '--repo', join(tmp, 'no-repo')]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^tufup-repo status: .*\[[A-Z_]+\]$/m);
    expect(execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^v2[4-9]\./);
  });

  it('the bin npm links is a source file (executable), not a build output, so a fresh clone links it at npm install', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'packages/repo-tools/package.json'), 'utf8')) as { bin: Record<string, string>; files: string[] };
    expect(manifest.bin).toEqual({ 'tufup-repo': './bin/tufup-repo.js' });
    expect(join(ROOT, 'packages/repo-tools', manifest.bin['tufup-repo']!)).toBe(CLI);
    expect(manifest.files).toContain('bin');
    expect(statSync(CLI).mode & 0o755).toBe(0o755);
  });

  it("every package's engines field admits exactly the Node versions the program states", () => {
    const floor = statedFloor();
    for (const pkg of PACKAGES) {
      const range = enginesOf(pkg);
      for (const version of floor) {
        const [major = 0, minor = 0] = version.split('.').map(Number);
        expect(satisfies(version, range), `${pkg} ${version}`).toBe(true);
        expect(satisfies(`${major}.${minor - 1}.99`, range), `${pkg} below ${version}`).toBe(false);
        expect(satisfies(`${major}.99.0`, range), `${pkg} later ${major}.x`).toBe(true);
      }
      // Node 23 is between the two lines but never had zstd dictionaries; later majors have them.
      expect(satisfies('23.11.1', range), pkg).toBe(false);
      expect(satisfies('26.0.0', range), pkg).toBe(true);
    }
  });
});
