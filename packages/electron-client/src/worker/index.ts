// The entry file of the update worker, started by the main process with `utilityProcess.fork` (or
// `child_process.fork`). It only wires the transport and Electron's network stack to the message loop.
import { netRequestFetch } from '../core/net-fetch.js';
import { serve, type ServiceOptions } from './service.js';
import { inUtilityProcess, parentTransport } from './transport.js';

async function electronFetch(): Promise<typeof globalThis.fetch | undefined> {
  if (!inUtilityProcess()) return undefined;
  // Chromium's network stack follows the system proxy, PAC and proxy auth; Node's fetch does not. Over
  // net.request rather than net.fetch, which cannot hand back a redirect for the core to check.
  const { net } = await import('electron');
  return netRequestFetch(net);
}

const options: ServiceOptions = {};
const fetch = await electronFetch();
if (fetch !== undefined) options.fetch = fetch;
serve(parentTransport(), options);
