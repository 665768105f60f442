/**
 * Benchmarks of the client core: a large, realistic Electron bundle (160 MiB by default), and a scale
 * series over repositories with many targets.
 *
 *   node_modules/.bin/node scripts/bench-client.ts            # after `npm run build`
 *   BENCH_MB=300 BENCH_PATCH_LEVEL=19 node_modules/.bin/node scripts/bench-client.ts
 *   BENCH_PARTS=scale BENCH_TARGETS=100,1000,5000,20000 BENCH_RUNS=3 node_modules/.bin/node scripts/bench-client.ts
 *   BENCH_PARTS=verify BENCH_TARGETS=100,1000,5000 node_modules/.bin/node scripts/bench-client.ts
 *
 * BENCH_PARTS (default `bundle,scale`; `verify` on request) picks the parts to run. The scale series checks
 * repositories of BENCH_TARGETS targets (a client's own build holds a quarter of them), BENCH_RUNS times
 * each; the verify series runs `tufup-repo verify` on repositories of BENCH_TARGETS real target files.
 *
 * Publishes two versions with @tufup/repo-tools, serves the repository on 127.0.0.1, then runs the client
 * in a child process (so its peak memory is its own) twice: a fresh install of 1.0.0 updating to 1.1.0
 * by patch (base rebuilt from the install folder), and an old install updating by full archive. Prints
 * time and peak RSS of check, download, patch, extract and verify, and bytes downloaded against the
 * full archive. Needs about 3x the bundle size in /tmp.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { chmod, cp, link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join, normalize, sep } from 'node:path';
import { Metadata, MetaFile, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { targetPath, useLinearTargetsCodec, type TargetCustom, type TufupCustom } from '@tufup/bundle';
import { addBundle, findSigners, initRepository, loadRepository, signMetadata } from '@tufup/repo-tools';
import { findStagedUpdate, UpdateClient, type Progress } from '@tufup/electron-client/core';

const APP = 'benchapp';
const CLI = fileURLToPath(new URL('../packages/repo-tools/bin/tufup-repo.js', import.meta.url));
const MiB = 1024 * 1024;

interface PhaseResult {
  phase: string;
  ms: number;
  peakRssMiB: number;
  bytes?: number;
}

interface ClientResult {
  scenario: string;
  strategy: string;
  downloadedBytes: number;
  fullSize: number;
  /** RSS of the client process before its first request (Node, the client and its dependencies loaded). */
  startRssMiB: number;
  /** Size of the new version's tar (the old one differs by a few KiB). */
  tarMiB: number;
  phases: PhaseResult[];
}

// --- the bundle -------------------------------------------------------------------------------

/** Text that compresses like code and JSON do (about 4-6x). */
function codeLike(size: number, seed: number): Buffer {
  const words = ['function', 'return', 'const', 'export', 'import', 'await', 'async', 'this', 'value', 'props', 'state', 'render', '=>', '{', '}', '(', ')', ';', 'null', 'true'];
  const parts: string[] = [];
  let length = 0;
  let x = seed;
  while (length < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const word = `${words[x % words.length] ?? ''}${x % 7 === 0 ? `_${x % 1000}\n` : ' '}`;
    parts.push(word);
    length += word.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Machine code compresses about 2-3x: half noise, half structure. */
function binaryLike(size: number, seed: number): Buffer {
  const block = 4096;
  const noise = randomBytes(Math.ceil(size / 2) + block);
  const text = codeLike(Math.ceil(size / 2) + block, seed);
  const out = Buffer.alloc(size);
  for (let i = 0, k = 0; i < size; i += block, k++) {
    const source = k % 2 === 0 ? noise : text;
    const offset = Math.floor(k / 2) * block;
    source.copy(out, i, offset, offset + Math.min(block, size - i));
  }
  return out;
}

async function writeBundle(dir: string, totalMiB: number): Promise<void> {
  const scale = totalMiB / 160;
  const mb = (n: number): number => Math.round(n * scale * MiB);
  await mkdir(join(dir, 'resources', 'app', 'node_modules'), { recursive: true });
  await mkdir(join(dir, 'locales'), { recursive: true });
  await mkdir(join(dir, 'lib'), { recursive: true });
  await writeFile(join(dir, APP), binaryLike(mb(100), 1));
  await chmod(join(dir, APP), 0o755);
  await writeFile(join(dir, 'icudtl.dat'), binaryLike(mb(10), 2));
  await writeFile(join(dir, 'v8_context_snapshot.bin'), randomBytes(mb(0.7)));
  for (const [name, size] of [['libffmpeg.so', 3], ['libEGL.so', 0.5], ['libGLESv2.so', 7], ['libvk_swiftshader.so', 5]] as const) {
    await writeFile(join(dir, 'lib', `${name}.1`), binaryLike(mb(size), name.length));
    await chmod(join(dir, 'lib', `${name}.1`), 0o755);
    await symlink(`${name}.1`, join(dir, 'lib', name));
  }
  for (let i = 0; i < 55; i++) await writeFile(join(dir, 'locales', `l${i}.pak`), codeLike(mb(0.1), 100 + i));
  await writeFile(join(dir, 'resources', 'app.asar'), codeLike(mb(25), 7));
  for (let i = 0; i < 200; i++) await writeFile(join(dir, 'resources', 'app', 'node_modules', `m${i}.js`), codeLike(mb(0.01) + 100, 500 + i));
  await writeFile(join(dir, 'version'), '1.0.0\n');
}

/** A typical app release: the app code changes in places, Electron itself does not. */
async function changeBundle(dir: string): Promise<void> {
  const asar = await readFile(join(dir, 'resources', 'app.asar'));
  const insert = codeLike(64 * 1024, 999);
  const at = Math.floor(asar.length / 3);
  await writeFile(join(dir, 'resources', 'app.asar'), Buffer.concat([asar.subarray(0, at), insert, asar.subarray(at + 1000)]));
  for (let i = 0; i < 10; i++) await writeFile(join(dir, 'resources', 'app', 'node_modules', `m${i}.js`), codeLike(12_000, 7000 + i));
  await writeFile(join(dir, 'locales', 'l3.pak'), codeLike(100_000, 4242));
  await writeFile(join(dir, 'version'), '1.1.0\n');
}

// --- the client run, in a child process ----------------------------------------------------------

async function runClient(args: { scenario: string; installDir: string; currentVersion: string; cacheDir: string; metadataUrl: string; targetsUrl: string; root: string }): Promise<ClientResult> {
  const samples: [number, number][] = [];
  const sample = (): number => samples.push([performance.now(), process.memoryUsage.rss()]);
  const startRssMiB = process.memoryUsage.rss() / MiB;
  const timer = setInterval(sample, 5);
  const marks: [string, number][] = [['start', performance.now()]];
  const client = new UpdateClient({
    appName: APP,
    currentVersion: args.currentVersion,
    installDir: args.installDir,
    metadataUrl: args.metadataUrl,
    targetsUrl: args.targetsUrl,
    cacheDir: args.cacheDir,
    trustedRoot: args.root,
    platform: 'linux',
    arch: 'x64',
  });
  const info = await client.checkForUpdates();
  if (info === undefined) throw new Error('no update found');
  sample();
  marks.push(['check', performance.now()]);
  const lastOf = new Map<string, number>();
  const staged = await client.downloadUpdate(info, {
    onProgress: (p: Progress) => {
      sample();
      if (p.transferred === p.total) lastOf.set(p.phase, performance.now());
    },
  });
  sample();
  const end = performance.now();
  for (const phase of ['download', 'patch', 'extract']) {
    const at = lastOf.get(phase);
    if (at !== undefined) marks.push([phase, phase === 'extract' ? end : at]);
  }
  const verified = await findStagedUpdate(args.cacheDir, args.currentVersion);
  if (verified?.version !== staged.version) throw new Error('the staged update did not verify');
  sample();
  marks.push(['verify (findStagedUpdate)', performance.now()]);
  clearInterval(timer);
  const phases: PhaseResult[] = [];
  for (let i = 1; i < marks.length; i++) {
    const [phase, to] = marks[i] ?? ['', 0];
    const from = marks[i - 1]?.[1] ?? 0;
    const inPhase = samples.filter(([t]) => t >= from && t <= to).map(([, rss]) => rss);
    const result: PhaseResult = { phase, ms: to - from, peakRssMiB: Math.max(0, ...inPhase) / MiB };
    if (phase === 'download') result.bytes = staged.downloadedBytes;
    phases.push(result);
  }
  return {
    scenario: args.scenario,
    strategy: staged.strategy,
    downloadedBytes: staged.downloadedBytes,
    fullSize: info.plan.fullSize,
    startRssMiB,
    tarMiB: info.custom.tufup.tar.size / MiB,
    phases,
  };
}

// --- the parent: publish, serve, run, print ------------------------------------------------------

function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const file = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!file.startsWith(root + sep)) return void res.writeHead(404).end();
    stat(file).then(
      (st) => {
        res.writeHead(200, { 'content-length': st.size });
        createReadStream(file).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function childRun(args: Parameters<typeof runClient>[0]): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, '--client', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ClientResult) : reject(new Error(`client run exited with ${code}`))));
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

async function bundleBench(): Promise<void> {
  const totalMiB = Number(process.env.BENCH_MB ?? 160);
  const patchLevel = Number(process.env.BENCH_PATCH_LEVEL ?? 19);
  const tmp = await mkdtemp(join(tmpdir(), 'tufup-bench-'));
  try {
    const v1 = join(tmp, 'bundle-1.0.0');
    const v2 = join(tmp, 'bundle-1.1.0');
    log(`writing a ${totalMiB} MiB bundle...`);
    await writeBundle(v1, totalMiB);
    await cp(v1, v2, { recursive: true, verbatimSymlinks: true });
    await changeBundle(v2);
    const repoDir = join(tmp, 'repo');
    const keysDir = join(tmp, 'keys');
    await initRepository({ repoDir, keysDir, appName: APP });
    for (const [version, dir] of [['1.0.0', v1], ['1.1.0', v2]] as const) {
      const t = performance.now();
      log(`publishing ${version} (zstd level ${patchLevel})...`);
      await addBundle({ repoDir, keysDir, bundleDir: dir, version, platform: 'linux', arch: 'x64', patchLevel });
      log(`  ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    const server = await serve(repoDir);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const common = { metadataUrl: `${url}/metadata/`, targetsUrl: `${url}/targets/`, root: join(repoDir, 'metadata', '1.root.json') };
    try {
      const results = [
        await childRun({ scenario: 'patch, fresh install 1.0.0 -> 1.1.0', installDir: v1, currentVersion: '1.0.0', cacheDir: join(tmp, 'cache-patch'), ...common }),
        await childRun({ scenario: 'full archive, 0.9.0 -> 1.1.0', installDir: v1, currentVersion: '0.9.0', cacheDir: join(tmp, 'cache-full'), ...common }),
      ];
      const tarSize = Number(execFileSync('du', ['-sb', v2]).toString().split('\t')[0]);
      process.stdout.write(`\nbundle: ${(tarSize / MiB).toFixed(1)} MiB on disk, Node ${process.version}, ${totalMiB} MiB requested\n`);
      for (const r of results) {
        process.stdout.write(`\n${r.scenario} (strategy used: ${r.strategy})\n`);
        const rows = [['phase', 'time (s)', 'peak RSS (MiB)'], ...r.phases.map((p) => [p.phase, (p.ms / 1000).toFixed(2), p.peakRssMiB.toFixed(0)])];
        process.stdout.write(`${table(rows)}\n`);
        process.stdout.write(
          `downloaded ${(r.downloadedBytes / MiB).toFixed(2)} MiB of a ${(r.fullSize / MiB).toFixed(2)} MiB full archive (${((100 * r.downloadedBytes) / r.fullSize).toFixed(2)} %)\n`,
        );
        const patch = r.phases.find((p) => p.phase === 'patch');
        const goal = 2 * r.tarMiB + 64e6 / MiB;
        process.stdout.write(
          `tar ${r.tarMiB.toFixed(1)} MiB; client process at start ${r.startRssMiB.toFixed(0)} MiB` +
            (patch ? `; patch peak ${patch.peakRssMiB.toFixed(0)} MiB = ${((patch.peakRssMiB - r.startRssMiB) / r.tarMiB).toFixed(2)} x tar over the start (goal: under 2 x tar + 64 MB = ${goal.toFixed(0)} MiB)` : '') +
            '\n',
        );
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// --- the scale series: a check against repositories with many targets -----------------------------

/** The platforms the synthetic history is spread over; the client is one of them. */
const SCALE_BUILDS = [
  ['linux', 'x64'],
  ['linux', 'arm64'],
  ['win32', 'x64'],
  ['darwin', 'arm64'],
] as const;

interface ScaleResult {
  /** Wall time of checkForUpdates with an empty cache (every metadata file downloaded and verified). */
  freshMs: number;
  /** Wall time of a second checkForUpdates (metadata read back from the cache and verified again). */
  cachedMs: number;
  /** Wall time of downloadUpdate (a fresh refresh, then patch, verify, extract). */
  downloadMs: number;
  /** Verifications of the targets metadata's signatures, per operation (fresh check, cached check, download). */
  verifications: [number, number, number];
  peakRssMiB: number;
}

/**
 * Grows the repository's targets to `count` entries with an older history (archive and patch per
 * version and build, custom metadata shaped as repo-tools writes it) and re-signs targets, snapshot and
 * timestamp with the publisher's keys. The history's files are not written: a check never reads them.
 */
async function growTargets(repoDir: string, keysDir: string, count: number): Promise<number> {
  useLinearTargetsCodec();
  const state = await loadRepository(repoDir);
  const json = state.targets.signed.toJSON();
  type Json = typeof json;
  const entries = { ...(json.targets as Record<string, Json>) };
  const template = Object.values(entries).find((e) => (e.custom as unknown as TargetCustom).tufup.kind === 'patch');
  if (template === undefined) throw new Error('the repository has no patch to copy');
  const tufup = (template.custom as unknown as TargetCustom).tufup;
  const hex = (seed: string): string => createHash('sha256').update(seed).digest('hex');
  let total = Object.keys(entries).length;
  for (let n = 0; total < count; n++) {
    const version = `0.${Math.floor(n / 50)}.${n % 50}`;
    const previous = n === 0 ? undefined : `0.${Math.floor((n - 1) / 50)}.${(n - 1) % 50}`;
    for (const [platform, arch] of SCALE_BUILDS) {
      for (const kind of ['archive', 'patch'] as const) {
        if (total >= count || (kind === 'patch' && previous === undefined)) continue;
        const custom: TufupCustom = { ...tufup, kind, version, platform, arch, tar: { sha256: hex(`tar ${version} ${platform}`), size: tufup.tar.size } };
        if (kind === 'patch' && previous !== undefined) custom.base = { version: previous, sha256: hex(`tar ${previous} ${platform}`), size: tufup.tar.size };
        else delete custom.base;
        const path = targetPath({ name: APP, version, kind, platform, arch });
        entries[path] = { length: Number(template.length), hashes: { sha256: hex(path) }, custom: { tufup: custom } as unknown as Json };
        total++;
      }
    }
  }
  return resign(repoDir, keysDir, state, entries);
}

type RepoState = Awaited<ReturnType<typeof loadRepository>>;
type TargetsJson = ReturnType<Targets['toJSON']>;

/** Signs `entries` as the next targets metadata of `state`, then snapshot and timestamp; the size of targets.json. */
async function resign(repoDir: string, keysDir: string, state: RepoState, entries: Record<string, TargetsJson>): Promise<number> {
  const json = state.targets.signed.toJSON();
  const signersOf = (role: 'targets' | 'snapshot' | 'timestamp'): ReturnType<typeof findSigners> =>
    findSigners({ keysDir }, role, state.root.signed.roles[role]?.keyIDs ?? []);
  const serialize = (m: Metadata<Targets | Snapshot | Timestamp>): Buffer => Buffer.from(`${JSON.stringify(m.toJSON(), null, 2)}\n`);
  const metaFile = (version: number, bytes: Buffer): MetaFile =>
    new MetaFile({ version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } });
  const targets = await signMetadata(new Metadata(Targets.fromJSON({ ...json, version: json.version as number + 1, targets: entries })), await signersOf('targets'));
  const targetsBytes = serialize(targets);
  const snapshotJson = state.snapshot.signed.toJSON();
  const snapshot = await signMetadata(
    new Metadata(Snapshot.fromJSON({ ...snapshotJson, version: state.snapshot.signed.version + 1, meta: { 'targets.json': metaFile(targets.signed.version, targetsBytes).toJSON() } })),
    await signersOf('snapshot'),
  );
  const snapshotBytes = serialize(snapshot);
  const timestampJson = state.timestamp.signed.toJSON();
  const timestamp = await signMetadata(
    new Metadata(
      Timestamp.fromJSON({ ...timestampJson, version: state.timestamp.signed.version + 1, meta: { 'snapshot.json': metaFile(snapshot.signed.version, snapshotBytes).toJSON() } }),
    ),
    await signersOf('timestamp'),
  );
  const dir = join(repoDir, 'metadata');
  await writeFile(join(dir, `${targets.signed.version}.targets.json`), targetsBytes);
  await writeFile(join(dir, `${snapshot.signed.version}.snapshot.json`), snapshotBytes);
  await writeFile(join(dir, 'timestamp.json'), serialize(timestamp));
  return targetsBytes.length;
}

/** In the child: a fresh check, a check on cached metadata, then the download, counting signature checks of targets. */
async function runScaleClient(args: { installDir: string; cacheDir: string; metadataUrl: string; targetsUrl: string; root: string }): Promise<ScaleResult> {
  let verifications = 0;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `call` on the instance
  const verify = Metadata.prototype.verifyDelegate;
  Metadata.prototype.verifyDelegate = function (this: Metadata<Targets>, role, delegated) {
    if (role === 'targets') verifications++;
    verify.call(this, role, delegated);
  };
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  const options = { appName: APP, currentVersion: '1.0.0', trustedRoot: args.root, platform: 'linux', arch: 'x64', ...args };
  const timed = async <T>(fn: () => Promise<T>): Promise<[T, number, number]> => {
    const before = verifications;
    const t = performance.now();
    const result = await fn();
    return [result, performance.now() - t, verifications - before];
  };
  const [info, freshMs, v1] = await timed(() => new UpdateClient(options).checkForUpdates());
  const [, cachedMs, v2] = await timed(() => new UpdateClient(options).checkForUpdates());
  if (info === undefined) throw new Error('no update found');
  const [, downloadMs, v3] = await timed(() => new UpdateClient(options).downloadUpdate(info));
  clearInterval(timer);
  return { freshMs, cachedMs, downloadMs, verifications: [v1, v2, v3], peakRssMiB: peak / MiB };
}

function childScaleRun(args: Parameters<typeof runScaleClient>[0]): Promise<ScaleResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, '--scale-client', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as ScaleResult) : reject(new Error(`scale client run exited with ${code}`))));
  });
}

/** A repository in `tmp` with releases 1.0.0 and 1.1.0 of a `mib` MiB bundle for linux-x64 (archives and the patch between them). */
async function twoReleases(tmp: string, mib: number): Promise<{ base: string; keysDir: string; v1: string }> {
  const v1 = join(tmp, 'bundle-1.0.0');
  const v2 = join(tmp, 'bundle-1.1.0');
  await writeBundle(v1, mib);
  await cp(v1, v2, { recursive: true, verbatimSymlinks: true });
  await changeBundle(v2);
  const base = join(tmp, 'repo');
  const keysDir = join(tmp, 'keys');
  await initRepository({ repoDir: base, keysDir, appName: APP });
  for (const [version, dir] of [['1.0.0', v1], ['1.1.0', v2]] as const) {
    await addBundle({ repoDir: base, keysDir, bundleDir: dir, version, platform: 'linux', arch: 'x64' });
  }
  return { base, keysDir, v1 };
}

/**
 * The scale series: one repository per size (two real releases of a 2 MiB bundle for linux-x64, grown to
 * N targets with an older history on four builds), each checked by a client in its own process.
 */
async function scaleBench(): Promise<void> {
  const sizes = (process.env.BENCH_TARGETS ?? '100,1000,5000,20000').split(',').map(Number);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const tmp = await mkdtemp(join(tmpdir(), 'tufup-bench-scale-'));
  try {
    const { base, keysDir, v1 } = await twoReleases(tmp, 2);
    const rows = [['targets', 'targets.json (KiB)', 'check, empty cache (s)', 'check, cached (s)', 'download (s)', 'targets verifications', 'peak RSS (MiB)', 'tufup-repo status (s)']];
    for (const size of sizes) {
      const repoDir = join(tmp, `repo-${size}`);
      await cp(base, repoDir, { recursive: true });
      log(`growing the targets to ${size}...`);
      const bytes = await growTargets(repoDir, keysDir, size);
      const server = await serve(repoDir);
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const results: ScaleResult[] = [];
        for (let run = 0; run < runs; run++) {
          results.push(
            await childScaleRun({
              installDir: v1,
              cacheDir: join(tmp, `cache-${size}-${run}`),
              metadataUrl: `${url}/metadata/`,
              targetsUrl: `${url}/targets/`,
              root: join(repoDir, 'metadata', '1.root.json'),
            }),
          );
        }
        // The publisher's side: the real CLI reading, verifying and summing up the same repository.
        const statusMs: number[] = [];
        for (let run = 0; run < runs; run++) {
          const t = performance.now();
          execFileSync(process.execPath, [CLI, 'status', '--repo', repoDir, '--keys-dir', keysDir, '--json'], { stdio: 'ignore' });
          statusMs.push(performance.now() - t);
        }
        const s = (pick: (r: ScaleResult) => number): string => (median(results.map(pick)) / 1000).toFixed(2);
        const verifications = [...new Set(results.map((r) => r.verifications.join(' / ')))].join(', ');
        rows.push([
          String(size),
          (bytes / 1024).toFixed(0),
          s((r) => r.freshMs),
          s((r) => r.cachedMs),
          s((r) => r.downloadMs),
          verifications,
          median(results.map((r) => r.peakRssMiB)).toFixed(0),
          (median(statusMs) / 1000).toFixed(2),
        ]);
        log(rows.at(-1)?.join('  ') ?? '');
      } finally {
        server.closeAllConnections();
        server.close();
        await rm(repoDir, { recursive: true, force: true });
      }
    }
    process.stdout.write(
      `\nscale series: Node ${process.version}, client for linux-x64 running 1.0.0, 1.1.0 offered by patch; medians of ${runs} runs, each in a fresh process with an empty cache\n${table(rows)}\n`,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// --- the verify series: tufup-repo verify over repositories with many targets ---------------------

/**
 * Grows a repository of two real releases (1.0.0 and 1.1.0 of a small bundle for linux-x64, with the
 * patch between them) to `count` targets whose files are real: an older history on four builds whose
 * archives are hard links to the 1.0.0 archive (even versions) or the 1.1.0 one (odd versions), and whose
 * odd versions have a patch from the version before (a hard link to the real patch). So verify downloads,
 * hashes, unpacks and patches every one of them, as for a real history of small releases.
 */
async function growRealTargets(repoDir: string, count: number, keysDir: string): Promise<number> {
  useLinearTargetsCodec();
  const state = await loadRepository(repoDir);
  const json = state.targets.signed.toJSON();
  const entries = { ...(json.targets as Record<string, TargetsJson>) };
  const real = (kind: string, version: string): [TargetsJson, TufupCustom] => {
    const found = Object.values(entries).find((e) => {
      const t = (e.custom as unknown as TargetCustom).tufup;
      return t.kind === kind && t.version === version;
    });
    if (found === undefined) throw new Error(`the repository has no ${kind} of ${version}`);
    return [found, (found.custom as unknown as TargetCustom).tufup];
  };
  const [archiveA, tufupA] = real('archive', '1.0.0');
  const [archiveB, tufupB] = real('archive', '1.1.0');
  const [patch, tufupPatch] = real('patch', '1.1.0');
  const fileOf = (path: string, entry: TargetsJson): string => {
    const sha256 = (entry.hashes as Record<string, string>).sha256 ?? '';
    const slash = path.lastIndexOf('/');
    return join(repoDir, 'targets', path.slice(0, slash + 1), `${sha256}.${path.slice(slash + 1)}`);
  };
  const sources = new Map<TargetsJson, string>();
  for (const [path, entry] of Object.entries(entries)) sources.set(entry, fileOf(path, entry));
  let total = Object.keys(entries).length;
  for (let n = 0; total < count; n++) {
    const version = `0.${Math.floor(n / 50)}.${n % 50}`;
    const previous = `0.${Math.floor((n - 1) / 50)}.${(n - 1) % 50}`;
    for (const [platform, arch] of SCALE_BUILDS) {
      for (const kind of ['archive', 'patch'] as const) {
        if (total >= count || (kind === 'patch' && n % 2 === 0)) continue;
        const [template, tufup] = kind === 'patch' ? [patch, tufupPatch] : n % 2 === 0 ? [archiveA, tufupA] : [archiveB, tufupB];
        const custom: TufupCustom = { ...tufup, version, platform, arch };
        if (kind === 'patch' && tufupPatch.base !== undefined) custom.base = { ...tufupPatch.base, version: previous };
        const path = targetPath({ name: APP, version, kind, platform, arch });
        const entry = { ...template, custom: { tufup: custom } as unknown as TargetsJson };
        const file = fileOf(path, entry);
        await mkdir(dirname(file), { recursive: true });
        await link(sources.get(template) ?? '', file);
        entries[path] = entry;
        total++;
      }
    }
  }
  return resign(repoDir, keysDir, state, entries);
}

/**
 * CPU time (user + system) of this process's finished children, from /proc/self/stat (Linux; clock ticks
 * of 10 ms): on a machine others load, it says what the work costs where wall time says how long it waited.
 */
function childCpuMs(): number {
  const own = readFileSync('/proc/self/stat', 'utf8');
  const fields = own.slice(own.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of stat (cutime, cstime), counted from after the command name (field 3 is index 0).
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** The verify series: `tufup-repo verify` (the real CLI, patches applied) on repositories of BENCH_TARGETS targets. */
async function verifyBench(): Promise<void> {
  const sizes = (process.env.BENCH_TARGETS ?? '100,1000,5000').split(',').map(Number);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const tmp = await mkdtemp(join(tmpdir(), 'tufup-bench-verify-'));
  try {
    const { base, keysDir } = await twoReleases(tmp, 0.5);
    const rows = [['targets', 'targets.json (KiB)', 'files (MiB)', 'verify, wall (s)', 'verify, CPU (s)', 'CPU per target (ms)']];
    for (const size of sizes) {
      const repoDir = join(tmp, `repo-${size}`);
      await cp(base, repoDir, { recursive: true });
      log(`growing the targets to ${size}...`);
      const bytes = await growRealTargets(repoDir, size, keysDir);
      const times: number[] = [];
      const cpu: number[] = [];
      let summary = { targets: 0, patchesApplied: 0, bytes: 0 };
      for (let run = 0; run < runs; run++) {
        const t = performance.now();
        const c = childCpuMs();
        const out = execFileSync(process.execPath, [CLI, 'verify', '--repo', repoDir, '--json'], { encoding: 'utf8', maxBuffer: 64 * MiB });
        times.push(performance.now() - t);
        cpu.push(childCpuMs() - c);
        summary = JSON.parse(out) as typeof summary;
      }
      if (summary.targets !== size) throw new Error(`verify checked ${summary.targets} targets, not ${size}`);
      const ms = median(times);
      const cpuMs = median(cpu);
      rows.push([String(size), (bytes / 1024).toFixed(0), (summary.bytes / MiB).toFixed(0), (ms / 1000).toFixed(2), (cpuMs / 1000).toFixed(2), (cpuMs / size).toFixed(2)]);
      log(`${rows.at(-1)?.join('  ') ?? ''} (${summary.patchesApplied} patches applied)`);
      await rm(repoDir, { recursive: true, force: true });
    }
    process.stdout.write(
      `\nverify series: Node ${process.version}, \`tufup-repo verify --repo R --json\` (every target downloaded from the folder, hashed, unpacked, patches applied); medians of ${runs} runs\n${table(rows)}\n`,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function log(s: string): void {
  process.stderr.write(`${s}\n`);
}

async function main(): Promise<void> {
  const parts = new Set((process.env.BENCH_PARTS ?? 'bundle,scale').split(','));
  if (parts.has('bundle')) await bundleBench();
  if (parts.has('scale')) await scaleBench();
  if (parts.has('verify')) await verifyBench();
}

if (process.argv[2] === '--client') {
  const result = await runClient(JSON.parse(process.argv[3] ?? '{}') as Parameters<typeof runClient>[0]);
  process.stdout.write(JSON.stringify(result));
} else if (process.argv[2] === '--scale-client') {
  const result = await runScaleClient(JSON.parse(process.argv[3] ?? '{}') as Parameters<typeof runScaleClient>[0]);
  process.stdout.write(JSON.stringify(result));
} else {
  await main();
}
