// Imports nothing but node:zlib, and that as a namespace: the update worker runs this check before it
// loads the rest of the client, whose named zstd imports would not even link on an older runtime.
import * as zlib from 'node:zlib';

/**
 * The oldest runtimes the client runs on. Patches are zstd "patch-from" with the old tar as a
 * dictionary, through `node:zlib`: the `dictionary` option of zstd first shipped in Node 24.6.0 and
 * 22.19.0, and Electron 43.0.0 is the first Electron on such a Node (24.17.0).
 */
export const RUNTIME_FLOOR = { electron: 43, node: '24.6.0', node22: '22.19.0' } as const;

/** What the runtime check looks at: `process.versions` and whether zstd dictionaries really work. */
export interface RuntimeFacts {
  node: string;
  /** `process.versions.electron`; undefined under plain Node. */
  electron?: string | undefined;
  /** The result of {@link zstdDictionaryWorks} on this runtime. */
  zstdDictionary: boolean;
}

function numbers(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
  return [major, minor, patch];
}

function atLeast(version: string, floor: string): boolean {
  const a = numbers(version);
  const b = numbers(floor);
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

/**
 * Whether zstd compression with a dictionary round-trips in this `node:zlib`. Feature-tested rather than
 * trusted from the version: Electron links Node's zlib to Chromium's zstd, and a zlib that silently
 * ignored `dictionary` would make every patch fail. The data is the dictionary itself, so a stream
 * that really used it cannot be decoded without it.
 */
export function zstdDictionaryWorks(): boolean {
  const { zstdCompressSync, zstdDecompressSync } = zlib as Partial<typeof zlib>;
  if (zstdCompressSync === undefined || zstdDecompressSync === undefined) return false;
  try {
    const dictionary = Buffer.from('tufup checks that zstd dictionaries work in node:zlib. '.repeat(4));
    const packed = zstdCompressSync(dictionary, { dictionary });
    if (!zstdDecompressSync(packed, { dictionary }).equals(dictionary)) return false;
    try {
      zstdDecompressSync(packed);
      return false; // decodable without the dictionary: the option was ignored
    } catch {
      return true;
    }
  } catch {
    return false;
  }
}

/** The facts of the running process. */
export function runtimeFacts(): RuntimeFacts {
  return { node: process.versions.node, electron: process.versions.electron, zstdDictionary: zstdDictionaryWorks() };
}

/** Why this runtime cannot run the client, in one sentence naming what was found and what is needed; undefined when it can. */
export function runtimeProblem(facts: RuntimeFacts): string | undefined {
  const { electron, node } = facts;
  const found = electron === undefined ? `Node ${node}` : `Electron ${electron} (Node ${node})`;
  const needed = `Electron >= ${RUNTIME_FLOOR.electron} (Node >= ${RUNTIME_FLOOR.node} or ${RUNTIME_FLOOR.node22}, with zstd dictionaries in node:zlib)`;
  const nodeOk = numbers(node)[0] === 22 ? atLeast(node, RUNTIME_FLOOR.node22) : atLeast(node, RUNTIME_FLOOR.node);
  const electronOk = electron === undefined || numbers(electron)[0] >= RUNTIME_FLOOR.electron;
  if (!electronOk || !nodeOk) return `tufup needs ${needed}; this is ${found}`;
  if (!facts.zstdDictionary) return `tufup needs ${needed}; ${found} has no working zstd dictionary support in node:zlib`;
  return undefined;
}
