/**
 * Suffix array construction by induced sorting (SA-IS: Nong, Zhang and Chan, "Two Efficient Algorithms
 * for Linear Time Suffix Array Construction", 2011), for the bsdiff engine's match search.
 *
 * On a 126 MB executable this is the largest single step of a diff, and its cost is cache misses: every
 * pass reads the text at random positions. So, as Yuta Mori's sais-lite does, it keeps no L/S type array
 * (a suffix's type follows from two neighbouring bytes, read together) and no widened copy of the text
 * (the input bytes are the level-0 text, with an implicit sentinel after the end), marks "induce from
 * here later" in the sign bit of the entries, names LMS substrings by their lengths, and builds the
 * reduced problem and its buckets inside the suffix array's own free space. Memory: the 4(n+1)-byte result
 * plus 2 KiB, where the first version needed 3n more bytes (a 16-bit text and a type array) and took 2.5x
 * the time.
 */
// Indexes into typed arrays in the hot loops below are in range by construction; `?? 0` on each would
// cost time on every byte of a 100 MB executable, so this file asserts them instead.
/* eslint-disable @typescript-eslint/no-non-null-assertion */

/** A text: the input bytes at level 0, names of LMS substrings below. */
type Text = Uint8Array | Int32Array;

/**
 * The suffix array of `data` with the empty suffix first, as bsdiff's search expects: `sa[0] = n` and
 * `sa[1..n]` the start offsets of the non-empty suffixes in lexicographic order. Memory: 4(n+1) bytes.
 */
export function suffixArray(data: Uint8Array): Int32Array {
  const n = data.length;
  if (n >= 0x7fffffff) throw new RangeError('suffix arrays are limited to 2 GiB of input');
  const out = new Int32Array(n + 1);
  out[0] = n;
  if (n > 0) sais(data, out.subarray(1), n, 256, new Int32Array(256), new Int32Array(256));
  return out;
}

/** Counts of each character of `t[0..n)` into `counts[0..k)`. */
function countChars(t: Text, n: number, k: number, counts: Int32Array): void {
  counts.fill(0, 0, k);
  for (let i = 0; i < n; i++) counts[t[i]!]!++;
}

/** Start (or end) offset of each character's bucket. `counts === bkt` recounts first (no room for both). */
function bucketBounds(t: Text, n: number, k: number, counts: Int32Array, bkt: Int32Array, end: boolean): void {
  if (counts === bkt) countChars(t, n, k, counts);
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const count = counts[c]!;
    sum += count;
    bkt[c] = end ? sum : sum - count;
  }
}

/**
 * Sorts the LMS substrings of `t` (stage 1): LMS positions go to the ends of their buckets, then L-type
 * suffixes are induced left to right and S-type ones right to left. Entries are cleared once they have
 * induced; a new entry is stored negated when it must not induce in the current pass (an L suffix whose
 * predecessor is S waits for the second pass; an LMS suffix found in the second pass is a result). At
 * the end the only non-zero entries are the LMS positions, negated, in LMS-substring order. Returns
 * their number.
 */
function sortLmsSubstrings(t: Text, sa: Int32Array, n: number, k: number, counts: Int32Array, bkt: Int32Array): number {
  sa.fill(0, 0, n);
  let m = 0;
  bucketBounds(t, n, k, counts, bkt, true);
  // Right to left: c1 is t[i + 1]; i + 1 is LMS when it is S-type and t[i] > t[i + 1].
  let nextIsS = false;
  let c1 = t[n - 1]!;
  for (let i = n - 2; i >= 0; i--) {
    const c0 = t[i]!;
    const isS: boolean = c0 < c1 || (c0 === c1 && nextIsS);
    if (!isS && nextIsS) {
      sa[--bkt[c1]!] = i + 1;
      m++;
    }
    nextIsS = isS;
    c1 = c0;
  }

  // L-type, left to right. The last suffix is L-type (the sentinel after it is smaller) and comes first
  // in its bucket.
  bucketBounds(t, n, k, counts, bkt, false);
  let j = n - 1;
  let c = t[j]!;
  sa[bkt[c]!++] = j > 0 && t[j - 1]! < c ? ~j : j;
  for (let i = 0; i < n; i++) {
    j = sa[i]!;
    if (j > 0) {
      const p = j - 1;
      c = t[p]!;
      sa[bkt[c]!++] = p > 0 && t[p - 1]! < c ? ~p : p;
      sa[i] = 0;
    } else if (j < 0) {
      sa[i] = ~j;
    }
  }

  // S-type, right to left.
  bucketBounds(t, n, k, counts, bkt, true);
  for (let i = n - 1; i >= 0; i--) {
    j = sa[i]!;
    if (j > 0) {
      const p = j - 1;
      c = t[p]!;
      sa[--bkt[c]!] = p > 0 && t[p - 1]! > c ? ~p : p;
      sa[i] = 0;
    }
  }
  return m;
}

/**
 * Compacts the sorted LMS positions into `sa[0..m)` and names their substrings (equal substrings, equal
 * names, in sorted order) into `sa[m + (p >> 1)]`. Returns the number of names.
 */
function nameLmsSubstrings(t: Text, sa: Int32Array, n: number, m: number): number {
  for (let i = 0, j = 0; j < m; i++) {
    const p = sa[i]!;
    if (p < 0) sa[j++] = ~p;
  }
  sa.fill(-1, m, n);
  // Each LMS substring's length (through the next LMS position), by one right-to-left pass over the text.
  // The last one runs into the sentinel: its length n - p + 1 reaches past the text, so it equals no other.
  let next = n;
  let nextIsS = false;
  let c1 = t[n - 1]!;
  for (let i = n - 2; i >= 0; i--) {
    const c0 = t[i]!;
    const isS: boolean = c0 < c1 || (c0 === c1 && nextIsS);
    if (!isS && nextIsS) {
      const p = i + 1;
      sa[m + (p >> 1)] = next - p + 1;
      next = p;
    }
    nextIsS = isS;
    c1 = c0;
  }
  let names = 0;
  let q = n;
  let qLength = 0;
  for (let i = 0; i < m; i++) {
    const p = sa[i]!;
    const slot = m + (p >> 1);
    const length = sa[slot]!;
    let differs = true;
    if (length === qLength && p + length <= n && q + length <= n) {
      let d = 0;
      while (d < length && t[p + d] === t[q + d]) d++;
      differs = d < length;
    }
    if (differs) {
      names++;
      q = p;
      qLength = length;
    }
    sa[slot] = names - 1;
  }
  return names;
}

/**
 * Induces the whole suffix array from the sorted LMS suffixes at the ends of their buckets. An entry holds
 * its suffix, negated while it must not induce in the current pass; every entry is flipped once by the
 * left-to-right pass and put back by the right-to-left one.
 */
function induce(t: Text, sa: Int32Array, n: number, k: number, counts: Int32Array, bkt: Int32Array): void {
  bucketBounds(t, n, k, counts, bkt, false);
  let j = n - 1;
  let c = t[j]!;
  sa[bkt[c]!++] = j > 0 && t[j - 1]! < c ? ~j : j;
  for (let i = 0; i < n; i++) {
    j = sa[i]!;
    sa[i] = ~j;
    if (j > 0) {
      const p = j - 1;
      c = t[p]!;
      sa[bkt[c]!++] = p > 0 && t[p - 1]! < c ? ~p : p;
    }
  }
  bucketBounds(t, n, k, counts, bkt, true);
  for (let i = n - 1; i >= 0; i--) {
    j = sa[i]!;
    if (j > 0) {
      const p = j - 1;
      c = t[p]!;
      sa[--bkt[c]!] = p === 0 || t[p - 1]! > c ? ~p : p;
    } else {
      sa[i] = ~j;
    }
  }
}

/**
 * The suffix array of `t[0..n)` over the alphabet `[0, k)`, followed by an implicit sentinel smaller than
 * every character, into `sa[0..n)`. `counts` and `bkt` hold k entries each (the same array when there is
 * room for only one: counts are then recomputed where needed).
 */
function sais(t: Text, sa: Int32Array, n: number, k: number, counts: Int32Array, bkt: Int32Array): void {
  if (n === 1) {
    sa[0] = 0;
    return;
  }
  if (counts !== bkt) countChars(t, n, k, counts);
  const m = sortLmsSubstrings(t, sa, n, k, counts, bkt);

  if (m > 0) {
    const names = nameLmsSubstrings(t, sa, n, m);
    // The reduced text (the names in text order) goes to the end of sa, its suffix array to the front.
    for (let i = n - 1, j = n - 1; i >= m; i--) if (sa[i]! >= 0) sa[j--] = sa[i]!;
    const reduced = sa.subarray(n - m, n);
    const sa1 = sa.subarray(0, m);
    if (names < m) {
      // The free middle of sa holds the reduced problem's buckets; it stays free until that returns.
      const free = n - 2 * m;
      if (2 * names <= free) sais(reduced, sa1, m, names, sa.subarray(m, m + names), sa.subarray(m + names, m + 2 * names));
      else {
        const shared = names <= free ? sa.subarray(m, m + names) : new Int32Array(names);
        sais(reduced, sa1, m, names, shared, shared);
      }
    } else {
      for (let i = 0; i < m; i++) sa1[reduced[i]!] = i;
    }

    // Stage 3: the LMS positions in text order replace the reduced text; map the reduced suffix array to
    // them and put them at the ends of their buckets, largest first, so none overwrites one not yet moved.
    let nextIsS = false;
    let c1 = t[n - 1]!;
    for (let i = n - 2, j = n - 1; i >= 0; i--) {
      const c0 = t[i]!;
      const isS: boolean = c0 < c1 || (c0 === c1 && nextIsS);
      if (!isS && nextIsS) sa[j--] = i + 1;
      nextIsS = isS;
      c1 = c0;
    }
    for (let i = 0; i < m; i++) sa1[i] = reduced[sa1[i]!]!;
    sa.fill(0, m, n);
    bucketBounds(t, n, k, counts, bkt, true);
    for (let i = m - 1; i >= 0; i--) {
      const p = sa[i]!;
      sa[i] = 0;
      sa[--bkt[t[p]!]!] = p;
    }
  } else {
    sa.fill(0, 0, n);
  }
  induce(t, sa, n, k, counts, bkt);
}
