import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMESPACE, EVENT_CHANNEL, RENDERER_REQUESTS, requestChannel } from '../src/ipc/channels.js';
import { isRefused, PROTOCOL_VERSION, readMainMessage, readWorkerMessage } from '../src/ipc/protocol.js';

describe('the worker protocol', () => {
  it('accepts a well-formed message of its own version', () => {
    const message = { v: PROTOCOL_VERSION, type: 'cancel', id: 7 };
    expect(readMainMessage(message)).toEqual(message);
    const answer = { v: PROTOCOL_VERSION, type: 'failed', id: 7, error: { code: 'NETWORK', message: 'offline' } };
    expect(readWorkerMessage(answer)).toEqual(answer);
  });

  it('refuses a message of another protocol version and keeps its id so the refusal can answer it', () => {
    const refused = readMainMessage({ v: PROTOCOL_VERSION + 1, type: 'check', id: 3, options: {} });
    expect(isRefused(refused)).toBe(true);
    expect(refused).toMatchObject({ id: 3 });
  });

  it('refuses unknown types, missing fields and non-objects', () => {
    expect(isRefused(readMainMessage({ v: PROTOCOL_VERSION, type: 'format-disk', id: 1 }))).toBe(true);
    expect(isRefused(readMainMessage({ v: PROTOCOL_VERSION, type: 'download', id: 1, options: {} }))).toBe(true);
    expect(isRefused(readWorkerMessage({ v: PROTOCOL_VERSION, type: 'downloaded', id: 1 }))).toBe(true);
    expect(isRefused(readWorkerMessage('checked'))).toBe(true);
    expect(isRefused(readWorkerMessage(null))).toBe(true);
  });

  it('does not mistake a worker message for a main message', () => {
    expect(isRefused(readMainMessage({ v: PROTOCOL_VERSION, type: 'checked', id: 1, info: null }))).toBe(true);
  });
});

describe('the renderer channels', () => {
  it('are namespaced and distinct', () => {
    const channels = [EVENT_CHANNEL, ...RENDERER_REQUESTS.map(requestChannel)];
    for (const channel of channels) expect(channel.startsWith(`${CHANNEL_NAMESPACE}:`)).toBe(true);
    expect(new Set(channels).size).toBe(channels.length);
  });

  it('cover subscribing, checking, downloading and installing', () => {
    expect([...RENDERER_REQUESTS].sort()).toEqual(['check', 'download', 'install', 'subscribe']);
  });
});
