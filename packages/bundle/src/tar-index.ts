/**
 * Where each entry of a tar held in memory lies: the patch planner diffs a new tar entry by entry
 * against the old tar's entry of the same path, instead of the whole tar against the whole tar.
 */

/** One entry of a tar: `[start, end)` holds its header block(s), content and padding. */
export interface TarSpan {
  path: string;
  /** First byte of the entry's first header block (a pax header when it has one). */
  start: number;
  /** First byte of the content. */
  dataStart: number;
  /** Content length. */
  size: number;
  /** One past the content's padding: the next entry's start. */
  end: number;
}

const BLOCK = 512;

function field(tar: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && tar[end] !== 0) end++;
  return Buffer.from(tar.buffer, tar.byteOffset + offset, end - offset).toString('utf8');
}

function octal(tar: Uint8Array, offset: number, length: number): number | undefined {
  const text = field(tar, offset, length).trim();
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
}

function paxPath(body: Buffer): string | undefined {
  let path: string | undefined;
  for (let at = 0; at < body.length; ) {
    const space = body.indexOf(0x20, at);
    const length = space < 0 ? NaN : Number(body.toString('ascii', at, space));
    if (!Number.isSafeInteger(length) || length <= 0) return path;
    const record = body.toString('utf8', space + 1, at + length - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') path = record.slice(eq + 1);
    at += length;
  }
  return path;
}

/**
 * The entries of a ustar/pax tar (as @tufup/bundle writes, and most tools), then one span for the
 * end-of-archive blocks named "" . Undefined when the bytes are not such a tar: the caller then treats
 * the tar as one opaque region.
 */
export function indexTar(tar: Uint8Array): TarSpan[] | undefined {
  const spans: TarSpan[] = [];
  let at = 0;
  let start = 0;
  let longPath: string | undefined;
  while (at + BLOCK <= tar.length) {
    if (tar.subarray(at, at + BLOCK).every((b) => b === 0)) {
      spans.push({ path: '', start: at, dataStart: at, size: 0, end: tar.length });
      return spans;
    }
    const size = octal(tar, at + 124, 12);
    if (size === undefined) return undefined;
    const type = String.fromCharCode(tar[at + 156] ?? 0);
    const dataStart = at + BLOCK;
    const end = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (end > tar.length) return undefined;
    if (type === 'x' || type === 'L') {
      const body = Buffer.from(tar.buffer, tar.byteOffset + dataStart, size);
      longPath = type === 'x' ? (paxPath(body) ?? longPath) : field(body, 0, size);
      at = end;
      continue;
    }
    const prefix = field(tar, at + 345, 155);
    const name = field(tar, at, 100);
    const path = longPath ?? (prefix === '' ? name : `${prefix}/${name}`);
    spans.push({ path: path.replace(/\/+$/, ''), start, dataStart, size, end });
    longPath = undefined;
    at = end;
    start = end;
  }
  return at === tar.length && spans.length > 0 ? spans : undefined;
}
