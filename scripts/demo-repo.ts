/**
 * The local demo repository shared by `npm run demo` (scripts/demo.ts) and `npm run demo:electron`
 * (scripts/demo-electron.ts): three versions of the demo app published with @tufup/repo-tools, and a
 * static file server on 127.0.0.1 that publishes it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';
import { TRUST_FILE } from '@tufup/bundle';
import { addBundle, initRepository, METADATA_DIR, type AddResult } from '@tufup/repo-tools';
import { buildDemoApp, DEMO_APP } from './demo-app-build.ts';

/** The app name in archive names: the demo app's package name, which is what `app.getName()` returns. */
export const DEMO_APP_NAME = 'tufup-demo-app';

/** One published version of the demo app. */
export interface DemoRelease {
  version: string;
  releaseNotes: string;
}

/** The versions the demo publishes, oldest first; the first one is what gets installed. */
export const DEMO_RELEASES: readonly DemoRelease[] = [
  { version: '1.0.0', releaseNotes: 'The first release.' },
  { version: '1.1.0', releaseNotes: 'A brighter accent colour.\nRelease notes travel in signed TUF metadata.' },
  { version: '1.2.0', releaseNotes: 'Progress shows each phase: download, patch, unpack.\nFixes the window title.' },
];

/** The demo app's source files that go into its bundle as they are; `out/` is built into each bundle. */
const BUNDLE_ENTRIES = ['package.json', 'version.js', 'renderer'];

/** The trust file shipped in each bundle (the demo app's main.ts reads it from there). */
export const BUNDLE_TRUST_FILE = 'tufup.json';

/**
 * Size of the stand-in for the Electron runtime. A real bundle is mostly the runtime (100+ MB) that does
 * not change between app versions; without it the demo bundle would be a few KB and savings meaningless.
 */
export const RUNTIME_STANDIN_BYTES = 1024 * 1024;
const RUNTIME_STANDIN = join('resources', 'runtime-standin.bin');

/** What {@link createDemoRepository} made. */
export interface DemoRepository {
  repoDir: string;
  keysDir: string;
  /** The root.json of the repository (version 1, as made by init), for clients given it directly. */
  trustedRoot: string;
  /** The trust file `tufup-repo init` wrote (app name and root), which every bundle ships. */
  trustFile: string;
  /** Bundle folder of each version. */
  bundles: Map<string, string>;
  published: AddResult[];
}

/** Deterministic, incompressible bytes: the same for every version, like an unchanged runtime. */
function runtimeStandin(size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update('tufup demo runtime').digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * Writes the bundle of one version: the demo app's files and build with that version in package.json, a
 * CHANGES.md that grows with each release, the repository's trust file and the runtime stand-in.
 */
export async function writeDemoBundle(dir: string, release: DemoRelease, trustFile: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const entry of BUNDLE_ENTRIES) await cp(join(DEMO_APP, entry), join(dir, entry), { recursive: true });
  await buildDemoApp(join(dir, 'out'));
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ ...pkg, version: release.version }, null, 2)}\n`);
  const history = DEMO_RELEASES.slice(0, DEMO_RELEASES.findIndex((r) => r.version === release.version) + 1)
    .reverse()
    .map((r) => `## ${r.version}\n\n${r.releaseNotes}\n`);
  await writeFile(join(dir, 'CHANGES.md'), `# Changes\n\n${history.join('\n')}`);
  await copyFile(trustFile, join(dir, BUNDLE_TRUST_FILE));
  await mkdir(join(dir, 'resources'), { recursive: true });
  await writeFile(join(dir, RUNTIME_STANDIN), runtimeStandin(RUNTIME_STANDIN_BYTES));
}

/**
 * Creates a repository in `<dir>/repo` (keys in `<dir>/keys`, outside it) and publishes every
 * {@link DEMO_RELEASES} version for this machine's platform and architecture.
 */
export async function createDemoRepository(dir: string, onPublished?: (result: AddResult) => void): Promise<DemoRepository> {
  const repoDir = join(dir, 'repo');
  const keysDir = join(dir, 'keys');
  await initRepository({ repoDir, keysDir, appName: DEMO_APP_NAME });
  const trustedRoot = join(repoDir, METADATA_DIR, '1.root.json');
  const trustFile = join(repoDir, TRUST_FILE);
  const bundles = new Map<string, string>();
  const published: AddResult[] = [];
  for (const release of DEMO_RELEASES) {
    const bundleDir = join(dir, 'bundles', release.version);
    await writeDemoBundle(bundleDir, release, trustFile);
    const result = await addBundle({ repoDir, keysDir, bundleDir, version: release.version, releaseNotes: release.releaseNotes });
    bundles.set(release.version, bundleDir);
    published.push(result);
    onPublished?.(result);
  }
  return { repoDir, keysDir, trustedRoot, trustFile, bundles, published };
}

/** A static file server over a repository folder, on 127.0.0.1 only. */
export interface RepoServer {
  /** `http://127.0.0.1:<port>/`: `metadata/` and `targets/` lie below it. */
  url: string;
  /** Bytes of file bodies sent so far. */
  bytesSent(): number;
  close(): Promise<void>;
}

/** Serves `repoDir` read-only on 127.0.0.1 (`port` 0 picks a free one). */
export async function serveRepository(repoDir: string, port = 0): Promise<RepoServer> {
  const root = normalize(repoDir);
  let sent = 0;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const file = normalize(join(root, path));
    if (req.method !== 'GET' || !file.startsWith(root + sep)) {
      res.writeHead(404).end();
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-length': info.size, 'content-type': 'application/octet-stream' });
        const stream = createReadStream(file);
        stream.on('data', (chunk) => (sent += chunk.length));
        stream.on('error', () => res.destroy());
        stream.pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}/`,
    bytesSent: () => sent,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
