import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageOf } from '@tufup/bundle';
import { waitFor as waitUntil } from '@tufup/testkit';

// `npm run demo:electron` with everything real but Electron: the demo script prepares and serves the
// repository and the 1.0.0 install, and the installed app's own main.js runs under Node with a
// stand-in `electron` module (test/standin/), whose window runs the bundled preload as a sandboxed
// renderer would and presses "Restart to update" once the update is downloaded.

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;
const REGISTER = pathToFileURL(join(import.meta.dirname, 'standin', 'register.ts')).href;
const TIMEOUT_MS = 60_000;

interface ReportLine {
  pid: number;
  type: string;
  [key: string]: unknown;
}

let workDir: string;
let demo: ChildProcess;
let printed = '';
let report: string;

async function records(): Promise<ReportLine[]> {
  const text = await readFile(report, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ReportLine);
}

/** The suite's wait: @tufup/testkit's, with what the app reported when it times out. */
function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  return waitUntil(probe, what, TIMEOUT_MS, 100).catch(async (error: unknown) => {
    throw new Error(`${messageOf(error)}; the app reported:\n${await readFile(report, 'utf8').catch(() => '')}`);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo:electron (main.js on a stand-in Electron)', () => {
  let url = '';
  let userData = '';
  let installDir = '';

  beforeAll(async () => {
    // Inside the project, as the demo requires, so the installed app finds node_modules.
    await mkdir(join(ROOT, '.tmp'), { recursive: true });
    workDir = await mkdtemp(join(ROOT, '.tmp', 'demo-electron-test-'));
    report = join(workDir, 'report.jsonl');
    demo = spawn(NODE, [join(ROOT, 'scripts', 'demo-electron.ts'), '--no-launch', '--dir', join(workDir, 'demo')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    demo.stdout?.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
    const command = await waitFor('the demo to print the start command', () =>
      Promise.resolve(/TUFUP_DEMO_URL=(\S+) TUFUP_DEMO_USER_DATA=(\S+) \S+(?: electron)? (\S+)\n/.exec(printed) ?? undefined),
    );
    [, url = '', userData = '', installDir = ''] = command;
  });

  afterAll(async () => {
    for (const record of await records()) if (record.type === 'start' && alive(record.pid)) process.kill(record.pid, 'SIGKILL');
    if (demo.exitCode === null) {
      const stopped = new Promise((resolve) => demo.once('exit', resolve));
      demo.kill('SIGTERM');
      await stopped;
    }
    await rm(workDir, { recursive: true, force: true });
  });

  it('opens a sandboxed window, downloads 1.2.0 by patch, restarts into it on "Restart to update", and 1.2.0 finds nothing newer', async () => {
    const app = spawn(NODE, [join(installDir, 'out', 'main.js')], {
      stdio: 'inherit',
      env: {
        ...process.env,
        TUFUP_DEMO_URL: url,
        TUFUP_DEMO_USER_DATA: userData,
        STANDIN_APP_PATH: installDir,
        STANDIN_REPORT: report,
        STANDIN_CLICK_INSTALL: '1',
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${REGISTER}`.trim(),
      },
    });
    const firstPid = app.pid ?? 0;

    // The relaunched version checks too; it finding nothing newer is the end of the story.
    await waitFor('the relaunched app to find no update', async () => {
      const done = (await records()).some((r) => r.pid !== firstPid && r.type === 'event' && r.event === 'update-not-available');
      return done ? true : undefined;
    });
    const all = await records();
    const first = all.filter((r) => r.pid === firstPid);
    const second = all.filter((r) => r.pid !== firstPid);

    expect(first.find((r) => r.type === 'start')).toMatchObject({ version: '1.0.0' });
    const window = first.find((r) => r.type === 'window');
    expect(window?.webPreferences).toEqual({ preload: join(installDir, 'out', 'preload.cjs'), contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(first.find((r) => r.type === 'load')).toMatchObject({ file: join(installDir, 'renderer', 'index.html') });

    const events = first.filter((r) => r.type === 'event');
    const names = events.map((r) => r.event);
    expect(names[0]).toBe('checking-for-update');
    expect(names).toContain('update-available');
    expect(names.at(-1)).toBe('update-downloaded');
    expect(names).not.toContain('error');
    const available = events.find((r) => r.event === 'update-available')?.args as [{ version: string; strategy: string; releaseNotes?: string }];
    expect(available[0]).toMatchObject({ version: '1.2.0', strategy: 'patch' });
    expect(available[0].releaseNotes).toBeTruthy();
    const percents = events.filter((r) => r.event === 'download-progress').map((r) => (r.args as [{ percent: number }])[0].percent);
    expect(percents.length).toBeGreaterThan(0);
    expect(Math.max(...percents)).toBe(100);

    expect(first.map((r) => r.type)).toEqual(expect.arrayContaining(['click', 'quit']));
    // The demo keeps its update cache in its userData folder (TUFUP_DEMO_USER_DATA). The installer writes
    // its result once it has seen the relaunched version's health marker, which can be after that check.
    const result = join(userData, 'cache', 'install', 'result');
    expect(await waitFor('the installer result', async () => ((await readFile(result, 'utf8').catch(() => '')) === 'installed 1.2.0\n' ? true : undefined))).toBe(true);

    expect(second.find((r) => r.type === 'start')).toMatchObject({ version: '1.2.0' });
    expect(second.find((r) => r.type === 'status')).toMatchObject({ status: { currentVersion: '1.2.0' } });
    expect(JSON.parse(await readFile(join(installDir, 'package.json'), 'utf8'))).toMatchObject({ version: '1.2.0' });
  });

  it('tells the user how to start it when no repository URL is set, and quits', async () => {
    const quietReport = join(workDir, 'no-url.jsonl');
    const env: NodeJS.ProcessEnv = { ...process.env, STANDIN_APP_PATH: installDir, STANDIN_REPORT: quietReport, TUFUP_DEMO_USER_DATA: join(workDir, 'no-url-user-data') };
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${REGISTER}`.trim();
    delete env.TUFUP_DEMO_URL;
    const app = spawn(NODE, [join(installDir, 'out', 'main.js')], { stdio: 'inherit', env });
    const code = await new Promise((resolve) => app.once('exit', resolve));
    expect(code).toBe(0);
    const lines = (await readFile(quietReport, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as ReportLine);
    expect(lines.find((r) => r.type === 'error-box')?.content).toContain('TUFUP_DEMO_URL');
    expect(lines.map((r) => r.type)).toContain('quit');
    expect(lines.map((r) => r.type)).not.toContain('window');
  });
});
