import { gunzipSync } from 'node:zlib';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PATCH_MAGIC, type PatchHeader } from '../src/index.js';

const require = createRequire(import.meta.url);

/** Real files installed in node_modules, so patches are tested on real machine code and real JS. */
export function realFile(kind: 'js' | 'elf' | 'elf2'): string {
  if (kind === 'js') return require.resolve('typescript/lib/typescript.js');
  if (kind === 'elf') return require.resolve('lightningcss-linux-x64-gnu/lightningcss.linux-x64-gnu.node');
  return require.resolve('@rolldown/binding-linux-x64-gnu/rolldown-binding.linux-x64-gnu.node');
}

export async function slice(path: string, start: number, length: number): Promise<Buffer> {
  const data = await readFile(path);
  return Buffer.from(data.subarray(start, start + length));
}

/** A JS edit as a release makes it: renamed identifiers, a changed string, a block inserted and one removed. */
export function editJs(source: Buffer): Buffer {
  let text = source.toString('utf8');
  text = text.replaceAll('function ', 'function /*v2*/ ');
  text = text.replace('"use strict";', '"use strict";\nconst RELEASE = "2.0.0";\n');
  const middle = Math.floor(text.length / 2);
  text = `${text.slice(0, middle)}\n// a new feature\nexport function feature() { return RELEASE; }\n${text.slice(middle + 5_000)}`;
  return Buffer.from(text, 'utf8');
}

/** A rebuilt binary: some bytes changed here and there, a block inserted, so later code shifts. */
export function editBinary(binary: Buffer): Buffer {
  const out = Buffer.from(binary);
  for (let at = 4_096; at < out.length; at += 65_536) out.writeUInt32LE((at * 2_654_435_761) >>> 0, at);
  const cut = Math.floor(out.length / 3);
  return Buffer.concat([out.subarray(0, cut), Buffer.alloc(4_096, 0x90), out.subarray(cut)]);
}

export async function writeFiles(root: string, files: Record<string, Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** Decodes a patch's header and payload, to craft damaged or forged patches. */
export function splitPatch(patch: Buffer): { header: PatchHeader; payload: Buffer } {
  const length = patch.readUInt32LE(12);
  const raw = patch.subarray(16, 16 + length);
  const json = patch.readUInt16LE(10) & 1 ? gunzipSync(raw) : raw;
  return { header: JSON.parse(json.toString('utf8')) as PatchHeader, payload: patch.subarray(16 + length) };
}

/** Builds patch bytes from a header and payload, as a forger with the format in hand would (plain JSON header, flags 0). */
export function joinPatch(header: unknown, payload: Buffer, formatVersion = 1): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const fixed = Buffer.alloc(16);
  PATCH_MAGIC.copy(fixed, 0);
  fixed.writeUInt16LE(formatVersion, 8);
  fixed.writeUInt32LE(json.length, 12);
  return Buffer.concat([fixed, json, payload]);
}
