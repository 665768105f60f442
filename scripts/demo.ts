/**
 * `npm run demo`: the whole update flow in a terminal, without Electron.
 *
 *   npm run demo                                     # build, then this script
 *   node_modules/.bin/node scripts/demo.ts [--keep]  # after `npm run build`; --keep leaves the folder
 *
 * Builds and publishes three versions of the demo app to a fresh TUF repository with @tufup/repo-tools,
 * serves the repository on 127.0.0.1, installs version 1 by extracting its archive, then updates that
 * install with the real client core (UpdateClient: TUF check, patch chain download, patch, verify,
 * stage) and the real installer script (install.sh: wait for the app to quit, swap, relaunch, health
 * check). Ends by running the installed folder's version check. Everything lives in one temp folder,
 * removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { extractArchive, messageOf } from '@tufup/bundle';
import { UpdateClient, type Progress, type StagedUpdate, type UpdateInfo } from '@tufup/electron-client/core';
import { shippedScript } from '@tufup/electron-client/install';
import { createDemoRepository, DEMO_APP_NAME, DEMO_RELEASES, serveRepository, type RepoServer } from './demo-repo.ts';

const out = process.stdout;
const tty = out.isTTY;
// A closed pipe (`npm run demo | head`) must not stop the demo before it cleans up.
out.on('error', () => undefined);
const BAR_WIDTH = 30;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

function step(n: number, title: string, text: string): void {
  out.write(`\n${n}. ${title}\n   ${text}\n`);
}

function detail(text: string): void {
  out.write(`   ${text}\n`);
}

const PHASE_LABEL: Record<Progress['phase'], string> = { download: 'download', patch: 'patch   ', extract: 'unpack  ' };

/** What a phase's bytes are: the network's in `download`, the disk's in the others. */
const PHASE_BYTES: Record<Progress['phase'], string> = { download: 'downloaded', patch: 'written', extract: 'unpacked' };

/**
 * Draws one text progress bar per phase (its own percent), followed by the whole update's percent, the
 * one number that only grows. On a terminal the bar redraws in place; in a pipe (a log, a test) only each
 * phase's final bar is printed, so the output stays one line per phase.
 */
class ProgressBars {
  private phase: Progress['phase'] | undefined;
  private last: Progress | undefined;

  update(p: Progress): void {
    if (this.phase !== p.phase) this.end();
    this.phase = p.phase;
    this.last = p;
    // Clear to the end of the line: a shorter redraw must not leave the tail of the last one.
    if (tty) out.write(`\r${this.line(p)}\x1b[K`);
  }

  /** Finishes the current phase's line. */
  end(): void {
    if (this.last === undefined) return;
    out.write(tty ? '\n' : `${this.line(this.last)}\n`);
    this.last = undefined;
    this.phase = undefined;
  }

  private line(p: Progress): string {
    const filled = Math.round((p.phasePercent / 100) * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
    const bytes = `${formatBytes(p.transferred)} of ${formatBytes(p.total)} ${PHASE_BYTES[p.phase]}`;
    return `   ${PHASE_LABEL[p.phase]} [${bar}] ${p.phasePercent.toFixed(0).padStart(3)}%  ${bytes.padEnd(32)} update ${p.percent.toFixed(0).padStart(3)}%`;
  }
}

/** Starts `node <args>` and resolves with its first line of output, leaving it running. */
function startNode(args: string[]): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let text = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`node ${args.join(' ')} exited with ${String(code)} before printing`)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
      const newline = text.indexOf('\n');
      if (newline >= 0) resolve({ child, firstLine: text.slice(0, newline) });
    });
  });
}

/** Starts a command; `done` resolves with its exit code and output once it ends. */
function run(command: string, args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string }> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  const done = new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
  return { child, done };
}

async function main(): Promise<void> {
  if (process.platform === 'win32') {
    // install.ps1 needs the app's processes and PowerShell; this terminal demo drives install.sh.
    throw new Error('the terminal demo runs on Linux and macOS (it drives install.sh); on Windows use npm run demo:electron');
  }
  const keep = process.argv.includes('--keep');
  const started = performance.now();
  const workDir = await mkdtemp(join(tmpdir(), 'tufup-demo-'));
  let server: RepoServer | undefined;
  const children: ChildProcess[] = [];
  try {
    out.write(`tufup demo: secure, small updates of ${DEMO_APP_NAME} (working in ${workDir})\n`);

    step(1, 'Publish', `the demo app, built, in a new TUF repository; its private keys stay in ${join(workDir, 'keys')} (never printed)`);
    const repo = await createDemoRepository(workDir, (r) => {
      const patch = r.patch === undefined ? '' : `, patch from ${r.patch.base}: ${formatBytes(r.patch.size)}`;
      detail(`${r.version}: archive ${formatBytes(r.archive.size)}${patch}`);
    });
    const first = repo.published[0];
    const newest = repo.published.at(-1);
    if (first === undefined || newest === undefined) throw new Error('nothing was published');

    server = await serveRepository(repo.repoDir);
    step(2, 'Serve', `${server.url} (metadata/ and targets/), on 127.0.0.1 only`);

    const installDir = join(workDir, 'apps', DEMO_APP_NAME);
    await extractArchive(join(repo.repoDir, first.archive.file), installDir, { expected: first.tar });
    step(3, 'Install', `${first.version} into ${installDir}, extracted from ${first.archive.path}`);
    const app = await startNode([join(installDir, 'version.js'), '--wait']);
    children.push(app.child);
    detail(`the app is running (pid ${String(app.child.pid)}): ${app.firstLine}`);

    const cacheDir = join(workDir, 'cache');
    const client = new UpdateClient({
      appName: DEMO_APP_NAME,
      currentVersion: first.version,
      installDir,
      metadataUrl: new URL('metadata/', server.url).href,
      targetsUrl: new URL('targets/', server.url).href,
      cacheDir,
      trustedRoot: await readFile(repo.trustedRoot),
    });
    const info: UpdateInfo | undefined = await client.checkForUpdates();
    if (info === undefined) throw new Error(`the client found no update from ${first.version}`);
    const chain = info.plan.files.length;
    step(4, 'Check', `${info.version} is available: ${info.plan.strategy === 'patch' ? `a chain of ${chain} patch${chain === 1 ? '' : 'es'}` : 'the full archive'}, ${formatBytes(info.plan.downloadSize)} to download (full archive: ${formatBytes(info.plan.fullSize)})`);
    detail('metadata verified by TUF: signatures, thresholds, versions and expiry of root, timestamp, snapshot and targets');
    for (const line of (info.releaseNotes ?? '(no release notes)').split('\n')) detail(`| ${line}`);

    step(5, 'Download', `${info.version} with the real client core`);
    const bars = new ProgressBars();
    const staged: StagedUpdate = await client.downloadUpdate(info, { onProgress: (p) => bars.update(p) });
    bars.end();
    const saved = info.plan.fullSize - staged.downloadedBytes;
    detail(`staged ${staged.version} (${staged.strategy}) in ${staged.stagedDir}; every file and the rebuilt tar checked against signed hashes`);
    detail(
      `downloaded ${formatBytes(staged.downloadedBytes)} (${staged.downloadedBytes} bytes) instead of the full ${formatBytes(info.plan.fullSize)} (${info.plan.fullSize} bytes): ${formatBytes(saved)} saved (${((saved / info.plan.fullSize) * 100).toFixed(1)}%)`,
    );

    // The installer runs from a copy outside the folder it replaces, as the Electron client does it.
    const installFolder = join(cacheDir, 'install');
    await mkdir(installFolder, { recursive: true });
    const script = join(installFolder, 'install.sh');
    await copyFile(shippedScript(), script);
    const result = join(installFolder, 'result');
    const marker = join(installFolder, `healthy-${staged.version}`);
    const installer = run('/bin/sh', [
      script,
      ...['--pid', String(app.child.pid), '--install', installDir, '--staged', staged.stagedDir],
      ...['--backup', join(dirname(installDir), `.${basename(installDir)}.tufup-backup`)],
      ...['--log', join(installFolder, 'install.log'), '--result', result, '--version', staged.version],
      ...['--wait-timeout', '30', '--health-timeout', '20', '--health-marker', marker],
      ...['--', process.execPath, join(installDir, 'version.js'), '--mark-healthy', marker],
    ]);
    children.push(installer.child);
    step(6, 'Install', `install.sh waits for the app (pid ${String(app.child.pid)}) to quit, swaps ${staged.version} in, relaunches it and waits for a healthy start`);
    const quit = new Promise((resolve) => app.child.once('exit', resolve));
    app.child.kill('SIGTERM');
    await quit;
    detail('the app quit');
    const { code } = await installer.done;
    const outcome = (await readFile(result, 'utf8').catch(() => '')).trim();
    detail(`installer exited with ${String(code)}: ${outcome || '(no result)'}`);
    if (outcome !== `installed ${staged.version}`) throw new Error(`the installer did not install ${staged.version}; see ${join(installFolder, 'install.log')}`);

    const check = await run(process.execPath, [join(installDir, 'version.js')]).done;
    const installed = check.stdout.trim();
    step(7, 'Verify', `node ${join(installDir, 'version.js')}`);
    detail(`installed version: ${installed}`);
    if (installed !== `${DEMO_APP_NAME} ${newest.version}`) throw new Error(`expected ${newest.version} to be installed, found "${installed}"`);

    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    out.write(`\nUpdated ${first.version} -> ${newest.version} (${DEMO_RELEASES.length} versions published) in ${seconds} s.\n`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await server?.close();
    if (keep) out.write(`Kept ${workDir}\n`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

try {
  await main();
} catch (error) {
  // Update errors carry a code (NETWORK, VERIFICATION, PATCH, ...) that says more than the message.
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? `${error.code}: ` : '';
  process.stderr.write(`\ndemo failed: ${code}${messageOf(error)}\n`);
  process.exitCode = 1;
}
