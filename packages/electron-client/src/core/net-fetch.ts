import type { Readable } from 'node:stream';

/** What is used of Electron's `net` (main or utility process): `net.request`, on Chromium's network stack. */
export interface NetRequester {
  request(options: { url: string; method: 'GET'; redirect: 'manual' | 'follow' | 'error'; headers: Record<string, string> }): NetClientRequest;
}

/** What is used of Electron's `ClientRequest`. */
export interface NetClientRequest {
  on(event: 'response', listener: (response: NetIncomingMessage) => void): unknown;
  on(event: 'redirect', listener: (statusCode: number, method: string, redirectUrl: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  abort(): void;
  end(): void;
}

/**
 * What is used of Electron's `IncomingMessage`: the status and headers. It is a Node Readable of the
 * body (lib/common/api/net-client-request.ts), which Electron's typings do not say.
 */
export interface NetIncomingMessage {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string | string[]>;
}

/**
 * A `fetch` over Electron's `net.request` for the core's `fetch` option (the worker passes it), so that
 * requests take the system proxy, PAC and proxy authentication like `net.fetch` does, and that
 * `redirect: 'manual'` works as in Node's fetch: the 3xx answer comes back with its `Location`, for the
 * fetcher to check each hop itself. (`net.fetch` cannot: with 'manual' it rejects every redirect with
 * "Redirect was cancelled" and no location.) Connection failures reject with a TypeError, as fetch's do,
 * so the fetcher retries them the same way. GET only: the core sends nothing else.
 */
export function netRequestFetch(net: NetRequester): typeof globalThis.fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const signal = init?.signal ?? undefined;
      if (signal?.aborted === true) {
        reject(signal.reason as Error);
        return;
      }
      const redirect = init?.redirect ?? 'follow';
      const request = net.request({ url, method: 'GET', redirect, headers: Object.fromEntries(new Headers(init?.headers).entries()) });
      let body: Readable | undefined;
      const onAbort = (): void => {
        request.abort();
        body?.destroy(signal?.reason as Error);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = (): void => signal?.removeEventListener('abort', onAbort);
      if (redirect === 'manual') {
        request.on('redirect', (statusCode, _method, redirectUrl) => {
          // Not followed: stopping here is what 'manual' asks, and Electron then does not fail the request.
          request.abort();
          settle();
          resolve(new Response(null, { status: statusCode, headers: { location: redirectUrl } }));
        });
      }
      request.on('response', (message) => {
        // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Electron's IncomingMessage is a Readable its typings do not declare
        const response = message as NetIncomingMessage & Readable;
        body = response;
        const headers = new Headers();
        for (const [name, value] of Object.entries(response.headers)) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
        response.once('close', settle);
        const stream = [204, 205, 304].includes(response.statusCode) ? null : bodyStream(response);
        resolve(new Response(stream, { status: response.statusCode, statusText: response.statusMessage, headers }));
      });
      request.on('error', (error) => {
        settle();
        reject(new TypeError('fetch failed', { cause: error }));
      });
      request.end();
    });
}

/** How much of a body may wait, received but not yet read, before the connection is paused. */
const QUEUE_BYTES = 4 * 1024 * 1024;

/**
 * The body of `message` as a web stream that hands over every byte received before a failure, and only
 * then the failure. (`Readable.toWeb` errors the stream at once, which drops the chunks queued and not
 * yet read: a download cut while the reader was busy writing to disk kept less than it had received, and
 * under load often nothing, so its retry started again from byte 0 instead of resuming.)
 */
function bodyStream(message: Readable): ReadableStream<Uint8Array> {
  const queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  message.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued >= QUEUE_BYTES) message.pause();
    notify();
  });
  message.once('end', () => {
    ended = true;
    notify();
  });
  message.once('error', (error: Error) => {
    failure = error;
    notify();
  });
  message.once('close', () => {
    // Closed without 'end' or 'error' (an aborted response): a body that stopped short is a failure.
    if (!ended) failure ??= new Error('the connection closed before the body ended');
    notify();
  });
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        while (queue.length === 0 && !ended && failure === undefined) await new Promise<void>((resolve) => (wake = resolve));
        const chunk = queue.shift();
        if (chunk !== undefined) {
          queued -= chunk.length;
          if (queued < QUEUE_BYTES && message.isPaused()) message.resume();
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        } else if (failure !== undefined) {
          controller.error(failure);
        } else {
          controller.close();
        }
      },
      cancel(reason) {
        message.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    // Nothing is pulled ahead into the web stream's own queue, which an error would empty.
    { highWaterMark: 0 },
  );
}
