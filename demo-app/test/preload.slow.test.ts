import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createContext, runInContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdaterBridge } from '@tufup/electron-client/preload';

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = existsSync(join(ROOT, 'node_modules', '.bin', 'node')) ? join(ROOT, 'node_modules', '.bin', 'node') : process.execPath;

type Listener = (event: unknown, ...args: unknown[]) => void;

/** What a sandboxed renderer gives a preload script: `require('electron')` and nothing else. */
function sandbox() {
  const required: string[] = [];
  const exposed = new Map<string, unknown>();
  const invoked: { channel: string; args: unknown[] }[] = [];
  const listeners: { channel: string; listener: Listener }[] = [];
  const electron = {
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
    ipcRenderer: {
      invoke: (channel: string, ...args: unknown[]) => {
        invoked.push({ channel, args });
        return Promise.resolve({ state: 'idle', currentVersion: '1.0.0' });
      },
      on: (channel: string, listener: Listener) => listeners.push({ channel, listener }),
    },
  };
  const require = (id: string): unknown => {
    required.push(id);
    if (id === 'electron') return electron;
    throw new Error(`module not found: ${id} (a sandboxed preload can only require electron)`);
  };
  return { context: createContext({ require }), required, exposed, invoked, listeners };
}

let tmp: string;
let BUNDLE: string;

describe('the bundled preload script (out/preload.cjs)', () => {
  beforeAll(async () => {
    // Bundled into a temp folder, so this test never races a demo build writing demo-app/out/.
    tmp = await mkdtemp(join(tmpdir(), 'tufup-demo-preload-'));
    BUNDLE = join(tmp, 'preload.cjs');
    await promisify(execFile)(NODE, [join(ROOT, 'scripts', 'demo-app-build.ts'), '--preload', BUNDLE], { cwd: ROOT });
  });

  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('runs in a sandboxed renderer: it requires electron only and exposes window.tufup', async () => {
    const box = sandbox();
    runInContext(await readFile(BUNDLE, 'utf8'), box.context, { filename: BUNDLE });
    expect(new Set(box.required)).toEqual(new Set(['electron']));
    expect([...box.exposed.keys()]).toEqual(['tufup']);
    const tufup = box.exposed.get('tufup') as UpdaterBridge;
    expect(Object.keys(tufup).sort()).toEqual(['check', 'download', 'install', 'on', 'status']);
  });

  it('delivers the events main sends to listeners, with their arguments but never the IPC event', async () => {
    const box = sandbox();
    runInContext(await readFile(BUNDLE, 'utf8'), box.context, { filename: BUNDLE });
    const tufup = box.exposed.get('tufup') as UpdaterBridge;
    const received: unknown[][] = [];
    tufup.on('update-available', (...args) => received.push(args));
    expect(await tufup.status()).toEqual({ state: 'idle', currentVersion: '1.0.0' });
    // Subscribing asked main for the status; main answers on the channel the bridge listens to.
    expect(box.invoked.length).toBeGreaterThan(0);
    expect(box.listeners).toHaveLength(1);
    const summary = { version: '1.2.0', required: false, downloadSize: 10, strategy: 'patch' };
    box.listeners[0]?.listener({ sender: 'the IPC event' }, { event: 'update-available', args: [summary] });
    box.listeners[0]?.listener({ sender: 'the IPC event' }, { event: 'download-progress', args: [{ percent: 5 }] });
    expect(received).toEqual([[summary]]);
  });
});
