/**
 * A raw ustar writer for tests: it writes whatever it is told, including the entries our own writer
 * refuses to make (absolute paths, `..`, devices, set-id bits, duplicates), so extraction can be tested
 * against the archives an attacker would serve.
 */

const BLOCK = 512;

/** ustar type flags: 0 file, 1 hard link, 2 symlink, 3 char device, 4 block device, 5 folder, 6 FIFO. */
export type CraftType = '0' | '1' | '2' | '3' | '4' | '5' | '6';

export interface CraftEntry {
  path: string;
  type?: CraftType;
  /** @default 0o644 for files, 0o755 for folders, 0o777 for links */
  mode?: number;
  linkname?: string;
  content?: string | Buffer;
}

function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}

function defaultMode(type: CraftType): number {
  if (type === '5') return 0o755;
  if (type === '2') return 0o777;
  return 0o644;
}

function header(entry: CraftEntry, size: number): Buffer {
  const type = entry.type ?? '0';
  const b = Buffer.alloc(BLOCK);
  b.write(entry.path, 0, 100, 'utf8');
  octal(b, 100, 8, entry.mode ?? defaultMode(type));
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, 0);
  b.write(type, 156, 1, 'ascii');
  b.write(entry.linkname ?? '', 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'ascii');
  octal(b, 329, 8, 0);
  octal(b, 337, 8, 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return b;
}

/** Builds a tar of exactly these entries, in this order, with a valid end-of-archive marker. */
export function craftTar(entries: readonly CraftEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = typeof entry.content === 'string' ? Buffer.from(entry.content) : (entry.content ?? Buffer.alloc(0));
    blocks.push(header(entry, content.length), content, Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}
