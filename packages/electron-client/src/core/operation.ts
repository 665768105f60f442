import type { FetchContext } from './fetcher.js';

/**
 * One check or one download, as its fetcher reports it. The client makes one per operation and gives it
 * to that operation's fetcher when the fetcher is made, so the fetcher keeps no state between calls (as
 * tuf-js's own Fetcher) and the client never reaches into it.
 */
export class Operation implements FetchContext {
  /** Bytes of target files received from the network so far. */
  targetBytes = 0;
  /**
   * What the latest fetcher call threw; undefined after one succeeded. A later call replaces it: every
   * check ends with tuf-js's 404 probe for the next root, which must not explain a later failure.
   */
  lastFailure: unknown;
  /** The mirror requests try first: the one that served the operation last (or the next, after a refused refresh). */
  mirror = 0;
  private readonly fileWatchers = new Set<(url: string, bytes: number) => void>();

  constructor(readonly signal: AbortSignal | undefined) {}

  readonly onFileBytes = (url: string, bytes: number): void => {
    for (const watcher of this.fileWatchers) watcher(url, bytes);
  };

  readonly onTargetBytes = (bytes: number): void => {
    this.targetBytes += bytes;
  };

  readonly onSettled = (failure: unknown): void => {
    this.lastFailure = failure;
  };

  readonly onMirror = (index: number): void => {
    this.mirror = index;
  };

  /** Calls `watcher` with the bytes on disk of each target file as it grows; the returned function stops it. */
  watchFiles(watcher: (url: string, bytes: number) => void): () => void {
    this.fileWatchers.add(watcher);
    return () => this.fileWatchers.delete(watcher);
  }
}
