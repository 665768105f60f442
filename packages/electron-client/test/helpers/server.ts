import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

/** One request the server answered. */
export interface ServedRequest {
  path: string;
  range: string | undefined;
  status: number;
  /** Body bytes written to the socket. */
  bytesSent: number;
}

/** A fault to inject into the next request whose path ends with `pathEnd`. */
export type Fault =
  | {
      pathEnd: string;
      /** Send this many body bytes, then... */
      afterBytes: number;
      /** ...`cut`: close the connection; `stall`: keep it open and send nothing more. */
      kind: 'cut' | 'stall';
    }
  | {
      pathEnd: string;
      /** Send the whole body, `bytes` at a time, one piece every `everyMs` (a slow or hostile server). */
      kind: 'trickle';
      bytes: number;
      everyMs: number;
    };

/**
 * A static file server on 127.0.0.1 over a repository folder, with `Range` support, a request log and
 * one-shot faults (a cut connection, a stall) for resume and timeout tests.
 */
export class LoopbackServer {
  readonly requests: ServedRequest[] = [];
  private readonly faults: Fault[] = [];
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private readonly stalled = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  constructor(private readonly root: string) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Arms a one-shot fault. */
  inject(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Disarms faults no request has triggered. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Requests whose path ends with `pathEnd`. */
  requestsFor(pathEnd: string): ServedRequest[] {
    return this.requests.filter((r) => r.path.endsWith(pathEnd));
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const res of this.stalled) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', this.url).pathname);
    const log: ServedRequest = { path, range: req.headers.range, status: 404, bytesSent: 0 };
    this.requests.push(log);
    const file = normalize(join(this.root, path));
    const size = file.startsWith(this.root + sep) ? await stat(file).then((s) => (s.isFile() ? s.size : undefined), () => undefined) : undefined;
    if (size === undefined) {
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (match) {
      start = Number(match[1]);
      if (start >= size) {
        log.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      log.status = 206;
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    } else {
      log.status = 200;
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    const index = this.faults.findIndex((f) => path.endsWith(f.pathEnd));
    const fault = index >= 0 ? this.faults.splice(index, 1)[0] : undefined;
    if (fault?.kind === 'trickle') {
      this.trickle(res, await readFile(file), start, fault, log);
      return;
    }
    const end = fault === undefined ? size : Math.min(size, start + fault.afterBytes);
    const stream = createReadStream(file, { start, end: end - 1 });
    stream.on('data', (chunk) => (log.bytesSent += chunk.length));
    stream.pipe(res, { end: fault === undefined });
    if (fault === undefined) return;
    stream.on('end', () => {
      if (fault.kind === 'stall') this.stalled.add(res);
      // Flush what was written, then drop the connection mid-body.
      else res.socket?.end(() => res.socket?.destroy());
    });
  }

  /** Sends `file` from `start` in small pieces on a timer, until done or the client hangs up. */
  private trickle(res: ServerResponse, file: Buffer, start: number, fault: { bytes: number; everyMs: number }, log: ServedRequest): void {
    let at = start;
    const timer = setInterval(() => {
      if (res.destroyed || at >= file.length) {
        clearInterval(timer);
        this.timers.delete(timer);
        if (!res.destroyed) res.end();
        return;
      }
      const piece = file.subarray(at, at + fault.bytes);
      at += piece.length;
      log.bytesSent += piece.length;
      res.write(piece);
    }, fault.everyMs);
    this.timers.add(timer);
  }
}
