/** How far a body is read ahead of its consumer (the partial file's writes) before reading waits for it. */
export const READ_AHEAD_BYTES = 8 * 1024 * 1024;

/**
 * A response body read as soon as its bytes arrive, whatever its consumer is doing, and handed out in
 * order, then its end or its failure. Why: a fetch body drops the bytes it holds when the connection then
 * fails (Node's fetch errors the body's stream, and erroring a web ReadableStream empties its queue), so
 * a body read only as fast as the partial file is written loses what arrived during each write, or all of
 * it when the cut comes while the file is being opened; the resumed download then fetches it again, or
 * starts from nothing. Read ahead, every byte that reached the process is the consumer's before the
 * failure is. Up to `limit` bytes wait in memory; past that, reading waits for the consumer (a disk far
 * slower than the network), so memory stays bounded.
 */
export class ReadAheadBody implements AsyncIterable<Buffer> {
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private ended: { failure?: unknown } | undefined;
  private stopped = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** Wakes the consumer waiting for a chunk or the end. */
  private arrived: (() => void) | undefined;
  /** Wakes the reading waiting for room. */
  private drained: (() => void) | undefined;

  /**
   * Starts reading `stream` (null: an empty body) at once. `watch.received` sees each chunk as it arrives;
   * if it throws, reading stops and the consumer gets that error after the chunks before it. `watch.ended`
   * is called once reading is over (the consumer may still be busy with what was read).
   */
  constructor(
    stream: ReadableStream<Uint8Array> | null,
    private readonly watch: { received(bytes: number): void; ended(): void },
    private readonly limit = READ_AHEAD_BYTES,
  ) {
    this.reader = stream?.getReader();
    void this.read();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        this.queued -= chunk.length;
        this.drained?.();
        yield chunk;
      } else if (this.ended !== undefined) {
        if ('failure' in this.ended) throw this.ended.failure;
        return;
      } else {
        await new Promise<void>((resolve) => (this.arrived = resolve));
      }
    }
  }

  /** Stops reading and releases the connection (a consumer that stopped early, or never started). */
  async cancel(): Promise<void> {
    this.stopped = true;
    this.drained?.();
    await this.reader?.cancel().catch(() => undefined);
  }

  private async read(): Promise<void> {
    try {
      while (this.reader !== undefined && !this.stopped) {
        if (this.queued >= this.limit) {
          await new Promise<void>((resolve) => (this.drained = resolve));
          continue;
        }
        const { done, value } = await this.reader.read();
        if (done) break;
        this.watch.received(value.length);
        this.chunks.push(Buffer.from(value.buffer, value.byteOffset, value.length));
        this.queued += value.length;
        this.arrived?.();
      }
      this.ended = {};
    } catch (failure) {
      this.ended = { failure };
    }
    this.watch.ended();
    this.arrived?.();
  }
}
