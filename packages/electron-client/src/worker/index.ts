// The entry file of the update worker, started by the main process with `utilityProcess.fork` (or
// `child_process.fork`). The package ships it bundled into one CommonJS file (dist/worker.cjs, embedded
// in the main entry), so it has no top-level await, and it checks the runtime before it loads the client:
// on an Electron too old for zstd patches it answers every request with UNSUPPORTED_RUNTIME instead of
// dying on a missing node:zlib export.
import { netRequestFetch } from '../core/net-fetch.js';
import { runtimeFacts, runtimeProblem } from '../core/runtime.js';
import { refuseAll } from './refuse.js';
import { inUtilityProcess, parentTransport } from './transport.js';

async function electronFetch(): Promise<typeof globalThis.fetch | undefined> {
  if (!inUtilityProcess()) return undefined;
  // Chromium's network stack follows the system proxy, PAC and proxy auth; Node's fetch does not. Over
  // net.request rather than net.fetch, which cannot hand back a redirect for the core to check.
  const { net } = await import('electron');
  return netRequestFetch(net);
}

async function main(): Promise<void> {
  const transport = parentTransport();
  const problem = runtimeProblem(runtimeFacts());
  if (problem !== undefined) {
    refuseAll(transport, { code: 'UNSUPPORTED_RUNTIME', message: problem });
    return;
  }
  const [{ serve }, fetch] = await Promise.all([import('./service.js'), electronFetch()]);
  serve(transport, fetch === undefined ? {} : { fetch });
}

void main();
