import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ReadAheadBody } from '../src/core/read-ahead.js';

// The fetcher's body reader: a connection that fails after sending bytes must not take those bytes
// with it, however slow the consumer (the partial file's writes) is. The stream here does what Node's
// fetch does on a cut: it errors, and erroring a web stream drops the chunks still queued in it.

const CHUNKS = ['aaaa', 'bbbb', 'cccc'].map((text) => Buffer.from(text));

/** A body that delivers `CHUNKS` at once, then fails on a later turn of the event loop, as a cut connection does. */
function cutBody(): { stream: ReadableStream<Uint8Array>; pulls: () => number } {
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of CHUNKS) controller.enqueue(new Uint8Array(chunk));
      setImmediate(() => controller.error(new TypeError('terminated')));
    },
    pull() {
      pulls += 1;
    },
  });
  return { stream, pulls: () => pulls };
}

/** Every chunk a consumer that takes `consumeMs` per chunk gets, then what it failed with. */
async function consume(body: AsyncIterable<Uint8Array>, consumeMs: number): Promise<{ got: string; failure: string }> {
  let got = '';
  try {
    for await (const chunk of body) {
      await sleep(consumeMs);
      got += Buffer.from(chunk).toString();
    }
  } catch (error) {
    return { got, failure: String(error) };
  }
  return { got, failure: 'none' };
}

/** The stream's chunks through a plain reader, as a body is read without reading ahead. */
async function* plain(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

const noWatch = { received: (): void => undefined, ended: (): void => undefined };

describe('ReadAheadBody', () => {
  it('hands a slow consumer every byte that arrived before the connection failed, then the failure', async () => {
    const result = await consume(new ReadAheadBody(cutBody().stream, noWatch), 20);
    expect(result).toEqual({ got: 'aaaabbbbcccc', failure: 'TypeError: terminated' });
  });

  it('(what it prevents: the same consumer reading the body as it goes loses the bytes queued at the cut)', async () => {
    const result = await consume(plain(cutBody().stream), 20);
    expect(result).toEqual({ got: 'aaaa', failure: 'TypeError: terminated' });
  });

  it('reports each chunk as it arrives and the end of reading, before the consumer is done', async () => {
    const seen: string[] = [];
    const body = new ReadAheadBody(cutBody().stream, { received: (bytes) => seen.push(`received ${bytes}`), ended: () => seen.push('ended') });
    await sleep(10);
    expect(seen).toEqual(['received 4', 'received 4', 'received 4', 'ended']);
    expect((await consume(body, 0)).got).toBe('aaaabbbbcccc');
  });

  it('stops reading once `limit` bytes wait for the consumer, and goes on as it catches up', async () => {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 10) return controller.close();
        sent += 1;
        controller.enqueue(new Uint8Array(1000));
      },
    }, { highWaterMark: 0 });
    const body = new ReadAheadBody(stream, noWatch, 3000);
    await sleep(20);
    expect(sent).toBe(3);
    let got = 0;
    for await (const chunk of body) got += chunk.length;
    expect([got, sent]).toEqual([10_000, 10]);
  });

  it('cancels the stream when the consumer stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(10)),
      cancel: () => {
        cancelled = true;
      },
    }, { highWaterMark: 0 });
    const body = new ReadAheadBody(stream, noWatch, 100);
    for await (const chunk of body) {
      expect(chunk.length).toBe(10);
      break;
    }
    await body.cancel();
    expect(cancelled).toBe(true);
  });
});
