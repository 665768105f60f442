/**
 * Suffix array construction by induced sorting (SA-IS: Nong, Zhang and Chan, "Two Efficient Algorithms
 * for Linear Time Suffix Array Construction", 2011), for the bsdiff engine's match search.
 *
 * Linear time and no recursion deeper than log n levels: on a 126 MB executable it is the largest part of
 * a diff, so it works on typed arrays only (no objects, no closures in the loops).
 */
// Indexes into typed arrays in the hot loops below are in range by construction; `?? 0` on each would
// cost time on every byte of a 100 MB executable, so this file asserts them instead.
/* eslint-disable @typescript-eslint/no-non-null-assertion */

type Text = Uint16Array | Int32Array;

/**
 * The suffix array of `data` with the empty suffix first, as bsdiff's search expects: `sa[0] = n` and
 * `sa[1..n]` the start offsets of the non-empty suffixes in lexicographic order. Memory: 4(n+1) bytes for
 * the result plus 3n bytes while it is built.
 */
export function suffixArray(data: Uint8Array): Int32Array {
  const n = data.length;
  if (n >= 0x7fffffff) throw new RangeError('suffix arrays are limited to 2 GiB of input');
  // A unique smallest sentinel must end the text: bytes move up by one, 0 is the sentinel.
  const text = new Uint16Array(n + 1);
  for (let i = 0; i < n; i++) text[i] = data[i]! + 1;
  const sa = new Int32Array(n + 1);
  if (n > 0) sais(text, sa, n + 1, 257);
  // else sa = [0]: only the empty suffix.
  return sa;
}

function bucketBounds(s: Text, n: number, k: number, bkt: Int32Array, end: boolean): void {
  bkt.fill(0);
  for (let i = 0; i < n; i++) bkt[s[i]!]!++;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    sum += bkt[i]!;
    bkt[i] = end ? sum : sum - bkt[i]!;
  }
}

/** Induces the L-type suffixes from the LMS ones (left to right), then the S-type ones (right to left). */
function induce(s: Text, sa: Int32Array, t: Uint8Array, n: number, k: number, bkt: Int32Array): void {
  bucketBounds(s, n, k, bkt, false);
  for (let i = 0; i < n; i++) {
    const j = sa[i]! - 1;
    if (j >= 0 && t[j] === 0) sa[bkt[s[j]!]!++] = j;
  }
  bucketBounds(s, n, k, bkt, true);
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i]! - 1;
    if (j >= 0 && t[j] === 1) sa[--bkt[s[j]!]!] = j;
  }
}

/** `s[0..n)` over the alphabet `[0, k)`, ending with a unique 0. `t` marks S-type positions with 1. */
function sais(s: Text, sa: Int32Array, n: number, k: number): void {
  const t = new Uint8Array(n);
  t[n - 1] = 1;
  if (n >= 2) t[n - 2] = 0;
  for (let i = n - 3; i >= 0; i--) t[i] = s[i]! < s[i + 1]! || (s[i] === s[i + 1] && t[i + 1] === 1) ? 1 : 0;
  const isLms = (i: number): boolean => i > 0 && t[i] === 1 && t[i - 1] === 0;

  // Stage 1: sort the LMS substrings by inducing from their buckets' ends.
  const bkt = new Int32Array(k);
  bucketBounds(s, n, k, bkt, true);
  sa.fill(-1, 0, n);
  for (let i = 1; i < n; i++) if (t[i] === 1 && t[i - 1] === 0) sa[--bkt[s[i]!]!] = i;
  induce(s, sa, t, n, k, bkt);

  // Compact the sorted LMS substrings into sa[0..n1), then name them (equal substrings, equal names).
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    const p = sa[i]!;
    if (isLms(p)) sa[n1++] = p;
  }
  sa.fill(-1, n1, n);
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = sa[i]!;
    let diff = false;
    for (let d = 0; d < n; d++) {
      if (prev === -1 || s[pos + d] !== s[prev + d] || t[pos + d] !== t[prev + d]) {
        diff = true;
        break;
      }
      if (d > 0 && (isLms(pos + d) || isLms(prev + d))) break;
    }
    if (diff) {
      name++;
      prev = pos;
    }
    sa[n1 + (pos >> 1)] = name - 1;
  }
  for (let i = n - 1, j = n - 1; i >= n1; i--) if (sa[i]! >= 0) sa[j--] = sa[i]!;

  // Stage 2: sort the reduced text (recursively while names repeat).
  const sa1 = sa.subarray(0, n1);
  const s1 = sa.subarray(n - n1, n);
  if (name < n1) sais(s1, sa1, n1, name);
  else for (let i = 0; i < n1; i++) sa1[s1[i]!] = i;

  // Stage 3: place the LMS suffixes in their final order, induce the rest.
  bucketBounds(s, n, k, bkt, true);
  for (let i = 1, j = 0; i < n; i++) if (t[i] === 1 && t[i - 1] === 0) s1[j++] = i;
  for (let i = 0; i < n1; i++) sa1[i] = s1[sa1[i]!]!;
  sa.fill(-1, n1, n);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = sa[i]!;
    sa[i] = -1;
    sa[--bkt[s[j]!]!] = j;
  }
  induce(s, sa, t, n, k, bkt);
}
