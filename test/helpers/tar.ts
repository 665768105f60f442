import { gzipSync } from 'node:zlib';
import { craftTar, type CraftEntry } from '@tufup/testkit';

/** One raw tar entry; nothing is checked, so it can say what a hostile archive says. */
export type RawEntry = CraftEntry;

/** A ustar archive of exactly these entries, in this order, and the same gzipped as a `.tar.gz` target. */
export function rawTarGz(entries: readonly RawEntry[]): { tar: Buffer; gz: Buffer } {
  const tar = craftTar(entries);
  return { tar, gz: gzipSync(tar) };
}
