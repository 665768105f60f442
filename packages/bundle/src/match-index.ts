/**
 * Where each 8-byte string of the old bytes occurs (hash chains, as in zstd's and xdelta3's match
 * finders), for the bsdiff engine's match search.
 *
 * bsdiff 4 searches a suffix array, which gives the exact longest match but costs most of a large diff:
 * on Node's 126 MB executable the construction took 23-28 s and the binary searches (27 random reads
 * each) 18-27 s, where building this index takes about 6 s and the scan, searching it, about 14 s. The
 * scan treats matches under 8 bytes as misses anyway, so an index of 8-byte strings finds every match it
 * uses; what it gives up is the longest of very many candidates (a string that occurs thousands of times,
 * where only the first {@link SCAN_CANDIDATES} are compared): 0.4% larger patches on esbuild, 2% on Node.
 */
// Indexes into typed arrays in the hot loops below are in range by construction; `?? 0` on each would
// cost time on every byte of a 100 MB executable, so this file asserts them instead.
/* eslint-disable @typescript-eslint/no-non-null-assertion */

/** Bytes hashed per position: the shortest match the scan takes (bsdiff.ts's SHORT_MATCH). */
export const KEY_BYTES = 8;
/** Chain entries compared per search during the scan: more barely changes patches and costs time. */
export const SCAN_CANDIDATES = 64;

/** The old bytes' 8-byte strings: `head[hash]` is the last position with that hash, `chain[p]` the one before p. */
export interface MatchIndex {
  readonly head: Int32Array;
  readonly chain: Int32Array;
  /** 32 - log2(head.length): how far a 32-bit hash is shifted down. */
  readonly shift: number;
}

function hash(bytes: Uint8Array, at: number, shift: number): number {
  const a = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
  const b = bytes[at + 4]! | (bytes[at + 5]! << 8) | (bytes[at + 6]! << 16) | (bytes[at + 7]! << 24);
  return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ (a >>> 15), 0x85ebca77)) >>> shift;
}

/**
 * Indexes the positions of `old` that have 8 bytes after it (all but the inside of runs). Memory: 4 bytes per old byte plus a head
 * table of about half an entry per old byte (at most 64 MiB).
 */
export function matchIndex(old: Uint8Array): MatchIndex {
  const n = old.length;
  const bits = Math.min(24, Math.max(10, Math.ceil(Math.log2(n + 1)) - 1));
  const shift = 32 - bits;
  const head = new Int32Array(1 << bits).fill(-1);
  const chain = new Int32Array(n);
  // Inside a run of one byte (zero padding, NOP sleds) only the run's first position goes in: every
  // position of a 200 KB run in one chain would leave a search only the run's last few (the shortest
  // matches), and the scan would cut the run into short alignments, each extended back over the run.
  // `same`: how many bytes up to p + 7 equal the byte before them.
  let same = 0;
  for (let q = 1; q < Math.min(KEY_BYTES - 1, n); q++) same = old[q] === old[q - 1] ? same + 1 : 0;
  for (let p = 0; p + KEY_BYTES <= n; p++) {
    const last = p + KEY_BYTES - 1;
    same = last > 0 && old[last] === old[last - 1] ? same + 1 : 0;
    if (same >= KEY_BYTES) continue;
    const h = hash(old, p, shift);
    chain[p] = head[h]!;
    head[h] = p;
  }
  return { head, chain, shift };
}

/**
 * A long match of `neu[scan..]` (at most `limit` bytes) in `old`: the longest of the position `hint`
 * (the alignment the caller follows, tried first, so it wins ties) and the first `candidates` positions
 * of the chain of `neu[scan..scan + 8)`. Writes the match offset into `out[0]` and returns its length
 * (0 when nothing matches, the offset then meaningless).
 */
export function findMatch(index: MatchIndex, old: Uint8Array, neu: Uint8Array, scan: number, limit: number, hint: number, candidates: number, out: Int32Array): number {
  const oldSize = old.length;
  let bestLength = 0;
  let bestAt = 0;
  if (hint >= 0 && hint < oldSize) {
    const max = Math.min(limit, oldSize - hint);
    let k = 0;
    while (k < max && old[hint + k] === neu[scan + k]) k++;
    bestLength = k;
    bestAt = hint;
  }
  if (bestLength < limit && limit >= KEY_BYTES) {
    const { chain } = index;
    let p = index.head[hash(neu, scan, index.shift)]!;
    for (let tried = 0; p >= 0 && tried < candidates; tried++, p = chain[p]!) {
      // Cheapest rejection first: a candidate that differs at the byte past the best so far is no better.
      if (p === hint || p + bestLength >= oldSize || old[p + bestLength] !== neu[scan + bestLength]) continue;
      const max = Math.min(limit, oldSize - p);
      let k = 0;
      while (k < max && old[p + k] === neu[scan + k]) k++;
      if (k > bestLength) {
        bestLength = k;
        bestAt = p;
        if (k >= limit) break;
      }
    }
  }
  out[0] = bestAt;
  return bestLength;
}
