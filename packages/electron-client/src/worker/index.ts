// The entry file of the update worker, started by the main process with `utilityProcess.fork` (or
// `child_process.fork`). It only wires the transport and Electron's network stack to the message loop.
import { serve, type ServiceOptions } from './service.js';
import { inUtilityProcess, parentTransport } from './transport.js';

async function electronFetch(): Promise<typeof globalThis.fetch | undefined> {
  if (!inUtilityProcess()) return undefined;
  // Chromium's network stack follows the system proxy, PAC and proxy auth; Node's fetch does not.
  const { net } = await import('electron');
  return (input, init) => net.fetch(input instanceof URL ? input.href : input, init);
}

const options: ServiceOptions = {};
const fetch = await electronFetch();
if (fetch !== undefined) options.fetch = fetch;
serve(parentTransport(), options);
