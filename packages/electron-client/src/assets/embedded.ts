/** A file the package carries as text (made at build time by scripts/build.ts) and writes out when needed. */
export interface EmbeddedFile {
  /** The file name to write it under; the worker's carries the first hex digits of its sha256. */
  readonly file: string;
  /** sha256 of `source` (UTF-8), hex. */
  readonly sha256: string;
  readonly source: string;
}
