import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

/** A static file server for a repository folder on 127.0.0.1: `/metadata/*` and `/targets/*`, like a CDN. */
export class StaticServer {
  private server: Server | undefined;
  /** Paths requested, in order (for assertions on what a client fetched). */
  readonly requests: string[] = [];

  constructor(private readonly root: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      this.requests.push(path);
      const rel = normalize(path).replace(/^[/\\]+/, '');
      const allowed = rel.startsWith(`metadata${sep}`) || rel.startsWith(`targets${sep}`);
      if (!allowed || rel.split(sep).includes('..')) {
        res.writeHead(404).end();
        return;
      }
      const file = join(this.root, rel);
      stat(file).then(
        (st) => {
          if (!st.isFile()) return void res.writeHead(404).end();
          res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
          createReadStream(file).pipe(res);
        },
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address == null) throw new Error('server not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
