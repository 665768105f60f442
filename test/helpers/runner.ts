// A stand-in for the app's update worker: a real child process that runs the client core once (check,
// then download) and reports over IPC. Started with `process.execPath` (Node strips the types).
//
//   argv[2]: JSON RunnerRequest
//
// To be killed at a precise moment, it can freeze inside the progress callback of a phase: it writes the
// marker file (synchronously, so the test sees it even though the event loop stops) and blocks there,
// in the middle of the client's work, until the test SIGKILLs it.
import { writeFileSync } from 'node:fs';
import { UpdateClient, UpdateError, type CoreOptions, type Progress } from '@tufup/electron-client/core';

/** What the runner is asked to do. */
export interface RunnerRequest {
  options: CoreOptions;
  /** Freeze at the first progress event of this phase that is under way (some bytes done, not all). */
  freeze?: { phase: Progress['phase']; marker: string };
}

/** What the runner reports. */
export type RunnerMessage =
  | { type: 'progress'; phase: Progress['phase']; transferred: number; total: number }
  | { type: 'staged'; version: string; strategy: string }
  | { type: 'up-to-date' }
  | { type: 'error'; code: string; message: string };

function send(message: RunnerMessage): void {
  process.send?.(message);
}

function freezeHere(marker: string): never {
  writeFileSync(marker, String(process.pid));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60_000);
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as RunnerRequest;
  const client = new UpdateClient(request.options);
  const { freeze } = request;
  const onProgress = (p: Progress): void => {
    send({ type: 'progress', phase: p.phase, transferred: p.transferred, total: p.total });
    if (freeze?.phase === p.phase && p.transferred > 0 && p.transferred < p.total) freezeHere(freeze.marker);
  };
  try {
    const info = await client.checkForUpdates();
    if (info === undefined) {
      send({ type: 'up-to-date' });
      return;
    }
    const staged = await client.downloadUpdate(info, { onProgress });
    send({ type: 'staged', version: staged.version, strategy: staged.strategy });
  } catch (error) {
    send(error instanceof UpdateError ? { type: 'error', code: error.code, message: error.message } : { type: 'error', code: 'UNTYPED', message: String(error) });
  }
}

await main();
if (process.connected) process.disconnect();
