import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RendererEventMap, UpdaterStatus } from '@tufup/electron-client/preload';

const CHROMIUM = '/usr/bin/chromium';
const PAGE = pathToFileURL(join(import.meta.dirname, '..', 'renderer', 'index.html')).href;
/** Set to 1 to refresh the screenshot in docs/ (look at it before committing). */
const SCREENSHOT = process.env.UPDATE_DOCS_SCREENSHOT === '1' ? join(import.meta.dirname, '..', '..', 'docs', 'demo-downloading.png') : undefined;

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`renderer page test skipped: ${CHROMIUM} is missing (Debian: apt-get install chromium)`);

type Request = 'status' | 'check' | 'download' | 'install';

/** What the stand-in bridge lets the test do from outside the page. */
interface StandinControl {
  fire(event: string, ...args: unknown[]): void;
  calls: Request[];
}

/**
 * Runs in the page before its scripts: a `window.tufup` with the preload bridge's shape whose events the
 * test fires and whose requests it records. Requests answer `ok`; the state comes from events only.
 */
function installStandin(initial: UpdaterStatus): void {
  const listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  const control: StandinControl = {
    calls: [],
    fire: (event, ...args) => {
      for (const listener of listeners.get(event) ?? []) listener(...args);
    },
  };
  const answer = (request: Request, value: unknown = null) => {
    control.calls.push(request);
    return Promise.resolve({ ok: true, value });
  };
  const bridge = {
    on: (event: string, listener: (...args: unknown[]) => void) => {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set.add(listener));
      return () => set.delete(listener);
    },
    status: () => {
      control.calls.push('status');
      return Promise.resolve(initial);
    },
    check: () => answer('check'),
    download: () => answer('download'),
    install: () => answer('install'),
  };
  Object.assign(window, { tufup: bridge, tufupStandin: control });
}

let userDataDir: string;
let context: BrowserContext;
let page: Page;

async function fire<K extends keyof RendererEventMap>(event: K, ...args: RendererEventMap[K]): Promise<void> {
  await page.evaluate(
    ([name, values]) => (window as unknown as { tufupStandin: StandinControl }).tufupStandin.fire(name, ...values),
    [event, args] as const,
  );
}

async function calls(): Promise<Request[]> {
  return page.evaluate(() => (window as unknown as { tufupStandin: StandinControl }).tufupStandin.calls);
}

/** What a user sees: the texts, which buttons work, the progress bar. */
async function screen() {
  const text = (selector: string) => page.locator(selector).innerText();
  const visible = (selector: string) => page.locator(selector).isVisible();
  const enabled = (selector: string) => page.locator(selector).isEnabled();
  return {
    version: await text('#current-version'),
    status: await text('#status'),
    updateShown: await visible('#update'),
    progressShown: await visible('#progress-block'),
    errorShown: await visible('#error'),
    check: await enabled('#check'),
    download: await enabled('#download'),
    install: await enabled('#install'),
  };
}

const UPDATE = {
  version: '1.2.0',
  required: false,
  releaseNotes: 'Progress shows each phase.\nFixes the window title.',
  downloadSize: 2557,
  strategy: 'patch' as const,
};

/** A download-progress event: `percent` of the whole update, in `phase`, which is `phasePercent` done. */
function progress(percent: number, phase: 'download' | 'patch' | 'extract' = 'download', phasePercent = percent) {
  const total = phase === 'download' ? 2557 : 2_160_000;
  const transferred = Math.round((total * phasePercent) / 100);
  return { phase, percent, phasePercent, total, transferred, delta: 0, bytesPerSecond: 1000, downloaded: Math.min(2557, transferred), downloadSize: 2557 };
}

describe.skipIf(!haveChromium)(`the demo window (rendered in ${CHROMIUM})`, () => {
  beforeAll(async () => {
    userDataDir = await mkdtemp(join(tmpdir(), 'tufup-demo-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 560, height: 540 },
    });
  });

  afterAll(async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    page = await context.newPage();
    await page.addInitScript(installStandin, { state: 'idle', currentVersion: '1.0.0' } satisfies UpdaterStatus);
    await page.goto(PAGE);
    await page.waitForFunction(() => document.getElementById('current-version')?.textContent === '1.0.0');
    return () => page.close();
  });

  it('starts idle, showing the running version, and asks the updater where it is', async () => {
    expect(await screen()).toEqual({
      version: '1.0.0',
      status: 'Not checked for updates yet.',
      updateShown: false,
      progressShown: false,
      errorShown: false,
      check: true,
      download: false,
      install: false,
    });
    expect(await calls()).toContain('status');
  });

  it('checks when the button is pressed and holds the button while checking', async () => {
    await page.click('#check');
    expect(await calls()).toContain('check');
    await fire('checking-for-update');
    expect(await screen()).toMatchObject({ status: 'Checking for updates…', check: false, download: false, install: false, updateShown: false });
  });

  it('shows an available update with its release notes, size and a download button', async () => {
    await fire('checking-for-update');
    await fire('update-available', UPDATE);
    expect(await screen()).toMatchObject({ status: 'Version 1.2.0 is available.', updateShown: true, check: true, download: true, install: false });
    expect(await page.locator('#release-notes').innerText()).toBe('Progress shows each phase.\nFixes the window title.');
    expect(await page.locator('#update-size').innerText()).toBe('2.5 KB to download as a patch');
    expect(await page.locator('#required').isVisible()).toBe(false);
    await page.click('#download');
    expect(await calls()).toContain('download');
  });

  it('marks a required update', async () => {
    await fire('update-available', { ...UPDATE, required: true });
    expect(await page.locator('#required').isVisible()).toBe(true);
  });

  it('says so when there is no update', async () => {
    await fire('checking-for-update');
    await fire('update-not-available', { version: '1.0.0' });
    expect(await screen()).toMatchObject({ status: 'You have the newest version.', updateShown: false, progressShown: false, check: true, download: false, install: false });
  });

  it('fills the progress bar once from 0 to 100 over the whole update, with each phase and its own bytes named, buttons held', async () => {
    await fire('update-available', UPDATE);
    for (const [percent, phase, phasePercent, label] of [
      [0, 'download', 0, 'Downloading 0% \\(0 B of 2.5 KB downloaded\\)'],
      [19, 'download', 62, 'Downloading 62% \\(1.5 KB of 2.5 KB downloaded\\)'],
      [30, 'download', 100, 'Downloading 100% \\(2.5 KB of 2.5 KB downloaded\\)'],
      [50, 'patch', 40, 'Applying the patch 40% \\(843.8 KB of 2.1 MB written\\)'],
      [100, 'extract', 100, 'Unpacking 100% \\(2.1 MB of 2.1 MB unpacked\\)'],
    ] as const) {
      await fire('download-progress', progress(percent, phase, phasePercent));
      expect(await page.locator('#progress').evaluate((bar) => (bar as HTMLProgressElement).value)).toBe(percent);
      expect(await page.locator('#progress-text').innerText()).toMatch(new RegExp(`^${label}$`));
      expect(await screen()).toMatchObject({ status: 'Downloading version 1.2.0…', progressShown: true, updateShown: true, check: false, download: false, install: false });
    }
    if (SCREENSHOT !== undefined) {
      await fire('download-progress', progress(62, 'patch', 46));
      await page.screenshot({ path: SCREENSHOT });
    }
  });

  it('offers "Restart to update" once the update is downloaded, and asks to install on click', async () => {
    await fire('update-available', UPDATE);
    await fire('download-progress', progress(100));
    await fire('update-downloaded', UPDATE);
    expect(await screen()).toMatchObject({ status: 'Version 1.2.0 is ready: restart to update.', progressShown: false, updateShown: true, install: true, download: false });
    await page.click('#install');
    expect(await calls()).toContain('install');
  });

  it('shows an error with its code and lets the user check again', async () => {
    await fire('checking-for-update');
    await fire('error', { code: 'NETWORK', message: 'the server answered HTTP 503' });
    expect(await screen()).toMatchObject({ status: 'The update failed.', errorShown: true, check: true, download: false, install: false });
    expect(await page.locator('#error').innerText()).toBe('the server answered HTTP 503 (NETWORK)');
  });

  it('shows a refused request as an error', async () => {
    await page.evaluate(() => {
      const bridge = (window as unknown as { tufup: { check: () => Promise<unknown> } }).tufup;
      bridge.check = () => Promise.resolve({ ok: false, error: { code: 'CONFIG', message: 'no repository URL' } });
    });
    await page.click('#check');
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'error');
    expect(await page.locator('#error').innerText()).toBe('no repository URL (CONFIG)');
  });
});
