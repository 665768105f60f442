import { gzipSync } from 'node:zlib';

const BLOCK = 512;

/** One raw tar entry; nothing is checked, so it can say what a hostile archive says. */
export interface RawEntry {
  path: string;
  /** ustar type flag: `0` file, `2` symlink, `5` folder. @default '0' */
  type?: '0' | '2' | '5';
  mode?: number;
  linkname?: string;
  content?: string;
}

function octal(b: Buffer, offset: number, width: number, value: number): void {
  b.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
}

/** A ustar archive of exactly these entries, in this order. */
export function rawTar(entries: readonly RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? '0';
    const content = Buffer.from(entry.content ?? '');
    const size = type === '0' ? content.length : 0;
    const h = Buffer.alloc(BLOCK);
    h.write(entry.path, 0, 100, 'utf8');
    octal(h, 100, 8, entry.mode ?? (type === '5' ? 0o755 : type === '2' ? 0o777 : 0o644));
    octal(h, 108, 8, 0);
    octal(h, 116, 8, 0);
    octal(h, 124, 12, size);
    octal(h, 136, 12, 0);
    h.write(type, 156, 1, 'ascii');
    h.write(entry.linkname ?? '', 157, 100, 'utf8');
    h.write('ustar\u000000', 257, 8, 'ascii');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
    blocks.push(h);
    if (size > 0) blocks.push(content, Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(blocks);
}

/** The same, gzipped, as a `.tar.gz` target. */
export function rawTarGz(entries: readonly RawEntry[]): { tar: Buffer; gz: Buffer } {
  const tar = rawTar(entries);
  return { tar, gz: gzipSync(tar) };
}
