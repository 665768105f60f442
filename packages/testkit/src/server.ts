import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join, normalize, sep } from 'node:path';

/** How the server misbehaves on a request a {@link Rule} matches. */
export type Misbehaviour =
  /** Serve these bytes instead of the file (an attacker's file, forged or old metadata). */
  | { kind: 'replace'; body: Buffer }
  /** Answer with an HTTP error and no body. */
  | { kind: 'status'; status: number }
  /** Drop the connection before answering (ECONNRESET on the client). */
  | { kind: 'reset' }
  /** Send this many body bytes, then close the connection mid-body. */
  | { kind: 'cut'; afterBytes: number }
  /** Send this many body bytes, then keep the connection open and send nothing more. */
  | { kind: 'stall'; afterBytes: number }
  /** Send the file `bytes` at a time, one chunk every `everyMs`: alive, but far too slow to finish. */
  | { kind: 'trickle'; bytes: number; everyMs: number }
  /** Send bytes forever, without a length, until the client hangs up. */
  | { kind: 'endless' }
  /** Redirect (302 unless told) to the same path on another server (`to`: its URL), or to `to` itself when it has a path. */
  | { kind: 'redirect'; to: string; status?: number };

/** A misbehaviour for the requests whose path ends with `pathEnd` (`/` matches every request). */
export interface Rule {
  pathEnd: string;
  does: Misbehaviour;
  /** How many requests it applies to before it disarms itself. @default Infinity */
  times?: number;
  /** Called when the misbehaviour is in effect (the bytes it sends are written). */
  then?: () => void;
}

/** One request the server saw. */
export interface SeenRequest {
  path: string;
  range: string | undefined;
  status: number;
  /** Body bytes written to the socket. */
  bytesSent: number;
  /** What the server did instead of serving the file, if anything. */
  misbehaviour?: Misbehaviour['kind'];
  /** The request's headers, as received. */
  headers: IncomingHttpHeaders;
}

/** Options of a {@link LoopbackServer}. */
export interface LoopbackOptions {
  /** Serve https with this key and certificate (PEM) instead of http. */
  tls?: { key: string; cert: string };
}

/**
 * A static file server on 127.0.0.1 over a repository folder (`/metadata/...`, `/targets/...`) with
 * `Range` support, a request log, and misbehaviour on command: it plays the compromised mirror, the
 * man in the middle, the broken CDN, the slow link and the server that goes away; or just the CDN.
 */
export class LoopbackServer {
  readonly requests: SeenRequest[] = [];
  private readonly rules: (Rule & { left: number })[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server;
  private port = 0;

  constructor(
    private readonly root: string,
    private readonly options: LoopbackOptions = {},
  ) {
    this.server = this.makeServer();
  }

  get url(): string {
    return `${this.options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  /** Whether it is serving (false after {@link goAway} until {@link start}). */
  get listening(): boolean {
    return this.server.listening;
  }

  /** Listens on a free port the first time, and on the same port after {@link goAway}. */
  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Arms a misbehaviour; later rules win over earlier ones for the same request. */
  on(rule: Rule): this {
    this.rules.push({ ...rule, left: rule.times ?? Infinity });
    return this;
  }

  /** Serves every file of `files` (path below the server root, e.g. `metadata/timestamp.json`) instead of the real one. */
  replace(files: ReadonlyMap<string, Buffer>): this {
    for (const [path, body] of files) this.on({ pathEnd: `/${path}`, does: { kind: 'replace', body } });
    return this;
  }

  /** Back to serving the repository faithfully. */
  behave(): void {
    this.rules.length = 0;
  }

  requestsFor(pathEnd: string): SeenRequest[] {
    return this.requests.filter((r) => r.path.endsWith(pathEnd));
  }

  /** Stops listening and drops every open connection, mid-body or not: the server is gone. */
  async goAway(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server = this.makeServer();
  }

  async close(): Promise<void> {
    if (this.server.listening) await this.goAway();
  }

  private makeServer(): Server {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const server = this.options.tls === undefined ? createServer(handler) : createTlsServer(this.options.tls, handler);
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private take(path: string): Rule | undefined {
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const rule = this.rules[i];
      if (rule === undefined || !path.endsWith(rule.pathEnd)) continue;
      rule.left -= 1;
      if (rule.left <= 0) this.rules.splice(i, 1);
      return rule;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', this.url).pathname);
    const seen: SeenRequest = { path, range: req.headers.range, status: 0, bytesSent: 0, headers: req.headers };
    this.requests.push(seen);
    const rule = this.take(path);
    const does = rule?.does;
    if (does !== undefined) seen.misbehaviour = does.kind;
    const count = (n: number): void => {
      seen.bytesSent += n;
    };

    if (does?.kind === 'reset') {
      req.socket.destroy();
      rule?.then?.();
      return;
    }
    if (does?.kind === 'redirect') {
      seen.status = does.status ?? 302;
      res.writeHead(seen.status, { location: new URL(new URL(does.to).pathname === '/' ? path : '', does.to).href }).end();
      rule?.then?.();
      return;
    }
    if (does?.kind === 'status') {
      seen.status = does.status;
      res.writeHead(does.status).end();
      rule?.then?.();
      return;
    }
    if (does?.kind === 'endless') {
      seen.status = 200;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) count(chunk.length);
        if (!res.destroyed) {
          count(chunk.length);
          res.once('drain', pump);
        }
      };
      res.on('close', () => rule?.then?.());
      pump();
      return;
    }

    let body: Buffer | undefined;
    let size: number | undefined;
    let file: string | undefined;
    if (does?.kind === 'replace') {
      body = does.body;
      size = body.length;
    } else {
      file = normalize(join(this.root, path));
      size = file.startsWith(this.root + sep) ? await stat(file).then((s) => (s.isFile() ? s.size : undefined), () => undefined) : undefined;
    }
    if (size === undefined) {
      seen.status = 404;
      res.writeHead(404).end();
      return;
    }
    let start = 0;
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (match) {
      start = Number(match[1]);
      if (start >= size) {
        seen.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      seen.status = 206;
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
    } else {
      seen.status = 200;
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    const read = (from: number, to: number): AsyncIterable<Buffer> | Buffer =>
      body !== undefined ? body.subarray(from, to) : (createReadStream(file ?? '', { start: from, end: to - 1 }) as AsyncIterable<Buffer>);

    if (does?.kind === 'trickle') {
      const whole = Buffer.concat(await collect(read(start, size)));
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed || at >= whole.length) {
          clearInterval(timer);
          this.timers.delete(timer);
          if (!res.destroyed) res.end();
          return;
        }
        const piece = whole.subarray(at, at + does.bytes);
        at += piece.length;
        res.write(piece);
        count(piece.length);
      }, does.everyMs);
      this.timers.add(timer);
      rule?.then?.();
      return;
    }

    const end = does?.kind === 'cut' || does?.kind === 'stall' ? Math.min(size, start + does.afterBytes) : size;
    for await (const chunk of toIterable(read(start, end))) {
      if (res.destroyed) return;
      // Counted once handed to the socket, before waiting for it to drain: the client may hold all of it already.
      const flushed = res.write(chunk);
      count(chunk.length);
      if (!flushed) await new Promise((resolve) => res.once('drain', resolve));
    }
    if (does?.kind === 'cut') {
      // Flush what was written, then drop the connection mid-body.
      res.socket?.end(() => res.socket?.destroy());
    } else if (does?.kind !== 'stall') {
      res.end();
    }
    rule?.then?.();
  }
}

function toIterable(source: AsyncIterable<Buffer> | Buffer): AsyncIterable<Buffer> | Iterable<Buffer> {
  if (!Buffer.isBuffer(source)) return source;
  return (function* () {
    for (let at = 0; at < source.length; at += 64 * 1024) yield source.subarray(at, at + 64 * 1024);
  })();
}

async function collect(source: AsyncIterable<Buffer> | Buffer): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of toIterable(source)) chunks.push(chunk);
  return chunks;
}
