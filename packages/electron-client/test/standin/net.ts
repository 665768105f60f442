import { request as httpRequest, type IncomingMessage } from 'node:http';
import { EventEmitter } from 'node:events';
import type { NetClientRequest, NetIncomingMessage, NetRequester } from '../../src/core/net-fetch.js';

/**
 * A stand-in for Electron's `net.request` on Node's http client, thin on purpose: it keeps what the
 * adapter relies on from Electron's ClientRequest (lib/common/api/net-client-request.ts): with
 * `redirect: 'manual'` a 3xx emits 'redirect' (status, method, new URL) and, unless a listener aborted
 * or followed it, the request dies with "Redirect was cancelled"; connection failures are 'error' events
 * with Chromium's net error names.
 */
export class StandinNet implements NetRequester {
  /** Every request made, with the headers it carried. */
  readonly requests: { url: string; headers: Record<string, string> }[] = [];

  request(options: Parameters<NetRequester['request']>[0]): NetClientRequest {
    this.requests.push({ url: options.url, headers: options.headers });
    return new StandinClientRequest(options);
  }
}

class StandinClientRequest extends EventEmitter implements NetClientRequest {
  private aborted = false;
  private followed = false;
  private readonly req;

  constructor(private readonly options: Parameters<NetRequester['request']>[0]) {
    super();
    this.req = httpRequest(options.url, { method: options.method, headers: options.headers }, (response: IncomingMessage) => this.answer(response));
    this.req.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.aborted) this.emit('error', new Error(error.code === 'ECONNREFUSED' ? 'net::ERR_CONNECTION_REFUSED' : `net::ERR_FAILED (${error.message})`));
    });
  }

  end(): void {
    this.req.end();
  }

  abort(): void {
    this.aborted = true;
    this.req.destroy();
  }

  /** Electron's `followRedirect()`, which the adapter never calls. */
  followRedirect(): void {
    this.followed = true;
  }

  private answer(response: IncomingMessage): void {
    const location = response.headers.location;
    if (response.statusCode !== undefined && response.statusCode >= 300 && response.statusCode < 400 && location !== undefined && this.options.redirect === 'manual') {
      response.resume();
      this.emit('redirect', response.statusCode, 'GET', new URL(location, this.options.url).href, response.headers);
      if (!this.followed && !this.aborted) this.emit('error', new Error('Redirect was cancelled'));
      return;
    }
    const message: NetIncomingMessage = Object.assign(response, { statusCode: response.statusCode ?? 0, statusMessage: response.statusMessage ?? '', headers: response.headers as Record<string, string | string[]> });
    this.emit('response', message);
  }
}
