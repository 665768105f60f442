/**
 * Benchmarks tufup's patch engine against bsdiff, xdelta3 and zstd's CLI on two versions of an app.
 *
 *   node_modules/.bin/node scripts/bench-delta.ts [options] <old> <new>
 *
 * <old> and <new> are bundle folders (archived with @tufup/bundle's deterministic tar first) or `.tar`
 * files. Every engine diffs and applies the same two tars. Each diff and apply runs in its own child
 * process, so its peak memory (GNU time's %M) is its own; wall time includes process start-up.
 *
 * Options:
 *   --runs N          runs per engine; the table shows medians (default 3)
 *   --max-seconds S   stop repeating an engine once one run took longer than S seconds (default 60)
 *   --level L         zstd level of our engine (default: the library's, 19)
 *   --max-table-log T cap of our engine's zstd hash/chain tables (default: the library's, 27)
 *   --engines LIST    comma-separated subset of ours,bsdiff,xdelta3,zstd (default: all installed)
 *   --keep            keep the temp folder with tars and patches
 *
 * Peers are benchmark tools only: `apt-get install -y bsdiff xdelta3 zstd time`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { digestFile, gzipFile, writeTar, type Digest } from '@tufup/bundle';

const GNU_TIME = '/usr/bin/time';
/** The repository root: the inline children resolve '@tufup/bundle' from here. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MB = 2 ** 20;

// --- child processes: one diff or one apply of our engine, in a process of its own ----------------

// The children are plain JavaScript on the built package, as an app runs it: run as this .ts file they
// would also carry Node's type-stripping loader (16 MiB of RSS measured here) into the peak.
const DIFF_JS = `
import { createPatchFile } from '@tufup/bundle';
const [base, target, out, level, maxTableLog] = process.argv.slice(1);
const options = {};
if (level !== '') options.level = Number(level);
if (maxTableLog !== '') options.maxTableLog = Number(maxTableLog);
await createPatchFile(base, target, out, options);
process.stdout.write(JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS }) + '\\n');
`;
// As a client does: the base tar is handed over, so it is held once while the new tar is decoded.
const APPLY_JS = `
import { readFile } from 'node:fs/promises';
import { applyPatch } from '@tufup/bundle';
const [patch, base, out, sha256, size] = process.argv.slice(1);
await applyPatch({ patchPath: patch, base: await readFile(base), releaseBase: true, outPath: out, expected: { sha256, size: Number(size) } });
process.stdout.write(JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS }) + '\\n');
`;

// --- measuring ---------------------------------------------------------------------------------

interface Sample {
  seconds: number;
  /** Peak resident set of the process, in bytes; undefined when GNU time is missing for a peer. */
  peak: number | undefined;
}

function runProcess(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${String(code)}: ${err.trim().slice(-500)}`));
    });
  });
}

async function measure(work: string, cmd: string, args: readonly string[]): Promise<Sample> {
  const hasTime = existsSync(GNU_TIME);
  const timeFile = join(work, 'time.out');
  const started = performance.now();
  const out = hasTime ? await runProcess(GNU_TIME, ['-f', '%M', '-o', timeFile, cmd, ...args]) : await runProcess(cmd, args);
  const seconds = (performance.now() - started) / 1000;
  if (hasTime) {
    const kb = Number((await readFile(timeFile, 'utf8')).trim().split('\n').at(-1));
    return { seconds, peak: kb * 1024 };
  }
  const reported = /"maxRssKB":(\d+)/.exec(out);
  return { seconds, peak: reported === null ? undefined : Number(reported[1]) * 1024 };
}

// --- engines -----------------------------------------------------------------------------------

interface Engine {
  name: string;
  /** Command lines for a diff and an apply between the benchmark's files. */
  diff: (base: string, target: string, patch: string) => [string, string[]];
  apply: (base: string, patch: string, out: string) => [string, string[]];
  available: () => boolean;
}

function engines(level: number | undefined, maxTableLog: number | undefined, target: Digest, baseSize: number): Engine[] {
  const node = process.execPath;
  // xdelta3 only matches within a source window (64 MiB by default); give it the whole old file, as
  // zstd and we get, or it cannot see most of a large base.
  const sourceWindow = String(Math.max(64 * MB, 2 ** Math.ceil(Math.log2(baseSize + 1))));
  const has = (tool: string): boolean => ['/usr/bin', '/usr/local/bin', '/bin'].some((dir) => existsSync(join(dir, tool)));
  return [
    {
      name: `tufup (zstd ${level === undefined ? '19' : String(level)}${maxTableLog === undefined ? '' : `, tables 2^${String(maxTableLog)}`}, node:zlib)`,
      diff: (b, t, p) => [node, ['--input-type=module', '-e', DIFF_JS, b, t, p, level === undefined ? '' : String(level), maxTableLog === undefined ? '' : String(maxTableLog)]],
      apply: (b, p, o) => [node, ['--input-type=module', '-e', APPLY_JS, p, b, o, target.sha256, String(target.size)]],
      available: () => true,
    },
    {
      name: 'bsdiff 4.3',
      diff: (b, t, p) => ['bsdiff', [b, t, p]],
      apply: (b, p, o) => ['bspatch', [b, o, p]],
      available: () => has('bsdiff') && has('bspatch'),
    },
    {
      name: 'xdelta3 -9',
      diff: (b, t, p) => ['xdelta3', ['-9', '-f', '-e', '-B', sourceWindow, '-s', b, t, p]],
      apply: (b, p, o) => ['xdelta3', ['-f', '-d', '-B', sourceWindow, '-s', b, p, o]],
      available: () => has('xdelta3'),
    },
    {
      name: 'zstd -19 --long=31 --patch-from',
      diff: (b, t, p) => ['zstd', ['-q', '-f', '-19', '--long=31', `--patch-from=${b}`, t, '-o', p]],
      apply: (b, p, o) => ['zstd', ['-q', '-f', '-d', '--long=31', `--patch-from=${b}`, p, '-o', o]],
      available: () => has('zstd'),
    },
  ];
}

const ENGINE_KEYS = ['ours', 'bsdiff', 'xdelta3', 'zstd'] as const;

interface Result {
  name: string;
  runs: number;
  patchSize: number;
  diff: Sample;
  apply: Sample;
  verified: boolean;
  /** Bytes of our patch before the zstd payload: fixed header + JSON header. */
  headerSize?: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianSample(samples: readonly Sample[]): Sample {
  const peaks = samples.map((s) => s.peak).filter((p): p is number => p !== undefined);
  return { seconds: median(samples.map((s) => s.seconds)), peak: peaks.length === 0 ? undefined : median(peaks) };
}

async function bench(work: string, engine: Engine, baseTar: string, targetTar: string, target: Digest, runs: number, maxSeconds: number): Promise<Result> {
  const diffs: Sample[] = [];
  const applies: Sample[] = [];
  const slug = engine.name.split(' ')[0]!.replace(/[^a-z0-9]/gi, '');
  const patch = join(work, `${slug}.patch`);
  const out = join(work, `${slug}.out.tar`);
  let verified = true;
  let patchSize = 0;
  for (let i = 0; i < runs; i++) {
    await rm(patch, { force: true });
    const [dc, da] = engine.diff(baseTar, targetTar, patch);
    diffs.push(await measure(work, dc, da));
    patchSize = (await stat(patch)).size;
    await rm(out, { force: true });
    const [ac, aa] = engine.apply(baseTar, patch, out);
    applies.push(await measure(work, ac, aa));
    const got = await digestFile(out);
    verified &&= got.sha256 === target.sha256 && got.size === target.size;
    await rm(out, { force: true });
    process.stderr.write(`  ${engine.name}: run ${String(i + 1)} diff ${diffs.at(-1)!.seconds.toFixed(2)} s, apply ${applies.at(-1)!.seconds.toFixed(2)} s\n`);
    if (diffs.at(-1)!.seconds + applies.at(-1)!.seconds > maxSeconds) break;
  }
  const result: Result = { name: engine.name, runs: diffs.length, patchSize, diff: medianSample(diffs), apply: medianSample(applies), verified };
  const head = await readFile(patch).then((bytes) => bytes.subarray(0, 16));
  if (head.subarray(0, 8).toString('latin1') === 'TUFUPDLT') result.headerSize = 16 + head.readUInt32LE(12);
  return result;
}

// --- output ------------------------------------------------------------------------------------

const mb = (bytes: number): string => (bytes / MB).toFixed(bytes < 10 * MB ? 2 : 1);
const human = (bytes: number): string => (bytes < MB ? `${(bytes / 1024).toFixed(1)} KB` : `${mb(bytes)} MB`);
const secs = (s: number): string => s.toFixed(s < 10 ? 2 : 1);
const peakMb = (p: number | undefined): string => (p === undefined ? '-' : (p / MB).toFixed(0));
const ratio = (value: number | undefined, ours: number | undefined): string =>
  value === undefined || ours === undefined || ours === 0 ? '-' : `${(value / ours).toFixed(2)}x`;

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const line = (row: readonly string[]): string => `| ${row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, col) => (col === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

// --- main --------------------------------------------------------------------------------------

async function asTar(input: string, work: string, name: string): Promise<string> {
  const st = await stat(input);
  if (st.isFile()) return input;
  const out = join(work, `${name}.tar`);
  await writeTar(input, out);
  return out;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      'max-seconds': { type: 'string', default: '60' },
      level: { type: 'string' },
      'max-table-log': { type: 'string' },
      engines: { type: 'string', default: ENGINE_KEYS.join(',') },
      keep: { type: 'boolean', default: false },
    },
  });
  const [oldInput, newInput] = positionals;
  if (oldInput === undefined || newInput === undefined || positionals.length !== 2) {
    process.stderr.write('usage: node scripts/bench-delta.ts [--runs N] [--max-seconds S] [--level L] [--max-table-log T] [--engines ours,bsdiff,xdelta3,zstd] [--keep] <old> <new>\n');
    process.exitCode = 2;
    return;
  }
  const runs = Number(values.runs);
  const maxSeconds = Number(values['max-seconds']);
  const level = values.level === undefined ? undefined : Number(values.level);
  const maxTableLog = values['max-table-log'] === undefined ? undefined : Number(values['max-table-log']);
  const wanted = new Set(values.engines.split(','));

  const work = await mkdtemp(join(tmpdir(), 'bench-delta-'));
  try {
    const baseTar = await asTar(oldInput, work, 'old');
    const targetTar = await asTar(newInput, work, 'new');
    const base = await digestFile(baseTar);
    const target = await digestFile(targetTar);
    const full = await gzipFile(targetTar, join(work, 'new.tar.gz'));
    const all = engines(level, maxTableLog, target, base.size);
    const chosen = all.filter((_, i) => wanted.has(ENGINE_KEYS[i]!) && all[i]!.available());
    const missing = all.filter((_, i) => wanted.has(ENGINE_KEYS[i]!) && !all[i]!.available()).map((e) => e.name);

    const results: Result[] = [];
    for (const engine of chosen) results.push(await bench(work, engine, baseTar, targetTar, target, runs, maxSeconds));

    const ours = results.find((r) => r.name.startsWith('tufup'));
    const header = ['engine', 'runs', 'patch', '% of new tar', 'size vs ours', 'diff s', 'diff vs ours', 'apply s', 'apply vs ours', 'diff peak MB', 'apply peak MB', 'apply peak vs ours', 'output ok'];
    const rows: string[][] = [header];
    for (const r of results) {
      rows.push([
        r.name,
        String(r.runs),
        human(r.patchSize),
        `${((100 * r.patchSize) / target.size).toFixed(2)}%`,
        ratio(r.patchSize, ours?.patchSize),
        secs(r.diff.seconds),
        ratio(r.diff.seconds, ours?.diff.seconds),
        secs(r.apply.seconds),
        ratio(r.apply.seconds, ours?.apply.seconds),
        peakMb(r.diff.peak),
        peakMb(r.apply.peak),
        ratio(r.apply.peak, ours?.apply.peak),
        r.verified ? 'yes' : 'NO',
      ]);
    }
    rows.push(['full archive (.tar.gz -9), for reference', '-', human(full.size), `${((100 * full.size) / target.size).toFixed(2)}%`, ratio(full.size, ours?.patchSize), '-', '-', '-', '-', '-', '-', '-', '-']);

    const goal = 2 * base.size + 64 * MB;
    const lines = [
      `old: ${basename(oldInput)} (tar ${mb(base.size)} MB)  new: ${basename(newInput)} (tar ${mb(target.size)} MB)  medians of up to ${String(runs)} runs; "vs ours" = engine / tufup`,
      '',
      table(rows),
      '',
      ours?.apply.peak === undefined
        ? 'memory goal for applying (2 x old tar + 64 MB): not measured'
        : `memory goal for applying: peak < 2 x old tar + 64 MB = ${(goal / MB).toFixed(0)} MB; tufup peaked at ${peakMb(ours.apply.peak)} MB (${ours.apply.peak < goal ? 'met' : 'MISSED'})`,
    ];
    if (ours?.headerSize !== undefined) {
      lines.push(`tufup patch = ${human(ours.headerSize)} header (JSON: digests + the old tar's entry list) + ${human(ours.patchSize - ours.headerSize)} zstd payload`);
    }
    if (missing.length > 0) lines.push(`not installed, skipped: ${missing.join(', ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (values.keep) process.stderr.write(`kept ${work}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

await main();
