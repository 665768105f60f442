import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
// The demo runs on the project's Node 24 (type stripping, zstd patches), whatever runs vitest.
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;

function runDemo(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(NODE, [join(ROOT, 'scripts', 'demo.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function match(text: string, pattern: RegExp): RegExpMatchArray {
  const found = pattern.exec(text);
  if (found === null) throw new Error(`the demo output has no line matching ${String(pattern)}:\n${text}`);
  return found;
}

describe('npm run demo', () => {
  it('updates an install of the first published version to the newest by patches, with less downloaded than a full archive, and cleans up', async () => {
    const { code, stdout, stderr } = await runDemo();
    expect(stderr, stdout).not.toMatch(/demo failed/);
    expect(code).toBe(0);

    const workDir = match(stdout, /\(working in (\S+)\)/)[1] ?? '';
    const published = [...stdout.matchAll(/^ {3}(\d+\.\d+\.\d+): archive/gm)].map((m) => m[1]);
    expect(published.length).toBeGreaterThanOrEqual(3);
    const first = published[0];
    const newest = published.at(-1);

    expect(match(stdout, /the app is running \(pid \d+\): (.+)$/m)[1]).toBe(`tufup-demo-app ${first ?? ''}`);
    expect(match(stdout, /^ {3}staged (\S+) \((patch|full)\)/m).slice(1)).toEqual([newest, 'patch']);
    for (const phase of ['download', 'patch', 'unpack']) {
      expect(stdout).toMatch(new RegExp(`^ {3}${phase} +\\[#+\\] 100%`, 'm'));
    }
    const [, downloaded = '', full = ''] = match(stdout, /downloaded .* \((\d+) bytes\) instead of the full .* \((\d+) bytes\)/);
    expect(Number(downloaded)).toBeGreaterThan(0);
    expect(Number(downloaded)).toBeLessThan(Number(full));

    expect(stdout).toContain(`installer exited with 0: installed ${newest ?? ''}`);
    // The last version line printed is the one the updated install reports when run.
    const reported = [...stdout.matchAll(/installed version: (.+)$/gm)].map((m) => m[1]);
    expect(reported.at(-1)).toBe(`tufup-demo-app ${newest ?? ''}`);

    expect(stdout).not.toMatch(/PRIVATE KEY/);
    expect(existsSync(workDir)).toBe(false);
  });
});
