import { BundleError } from '@tufup/bundle';
import { CryptoError } from '@tufjs/models/dist/error.js';
import { DownloadHTTPError, DownloadLengthMismatchError, PersistError, RepositoryError, RuntimeError } from 'tuf-js/dist/error.js';
import { describe, expect, it } from 'vitest';
import { toUpdateError, UpdateError } from '../src/core/error.js';
import { fromErrorPayload, toErrorPayload } from '../src/ipc/errors.js';

/** A Node system error as fs throws it. */
function errno(code: string, message = `${code}: failed`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code, path: '/cache/x' });
}

const aborted = AbortSignal.abort();

describe('toUpdateError: one code for everything thrown below the client', () => {
  it.each<[string, unknown, { signal?: AbortSignal; fetchFailure?: unknown }, string]>([
    ['an UpdateError', new UpdateError('NO_UPDATE', 'x'), {}, 'NO_UPDATE'],
    ['anything, once the signal fired', new Error('x'), { signal: aborted }, 'CANCELLED'],
    ['an HTTP error answer', new DownloadHTTPError('GET failed', 503), {}, 'NETWORK'],
    ['more bytes than the signed length', new DownloadLengthMismatchError('too long'), {}, 'VERIFICATION'],
    ["tuf-js's wrapped failure after a failed download", new RuntimeError('Unable to load snapshot'), { fetchFailure: new DownloadHTTPError('GET failed', 500) }, 'NETWORK'],
    ["tuf-js's wrapped failure after a stalled download", new RuntimeError('Unable to load targets'), { fetchFailure: new UpdateError('TIMEOUT', 'no data') }, 'TIMEOUT'],
    ["tuf-js's wrapped failure of downloaded bytes", new RuntimeError('Unable to load snapshot: bad signature'), {}, 'VERIFICATION'],
    ['metadata that could not be saved', new PersistError('Failed to persist metadata: ENOSPC'), {}, 'DISK'],
    ["a wrapped PersistError (tuf-js keeps only its message)", new RuntimeError('Unable to load timestamp: Failed to persist metadata'), {}, 'DISK'],
    ['a repository that fails TUF checks', new RepositoryError('expired'), {}, 'VERIFICATION'],
    ['a bad signature', new CryptoError('signature'), {}, 'VERIFICATION'],
    ['a patch that does not apply', new BundleError('PATCH_CORRUPT', 'x'), {}, 'PATCH'],
    ['a patch for another base', new BundleError('PATCH_BASE_MISMATCH', 'x'), {}, 'PATCH'],
    ['a full disk under @tufup/bundle', new BundleError('DISK_FULL', 'x'), {}, 'DISK'],
    ['a file-system failure under @tufup/bundle', new BundleError('IO', 'x'), {}, 'DISK'],
    ['an archive entry that escapes', new BundleError('UNSAFE_ENTRY', 'x'), {}, 'VERIFICATION'],
    ['a tar of the wrong hash', new BundleError('HASH_MISMATCH', 'x'), {}, 'VERIFICATION'],
    ['a full disk', errno('ENOSPC'), {}, 'DISK'],
    ['a read-only disk', errno('EROFS'), {}, 'DISK'],
    ['a folder it may not write', errno('EACCES'), {}, 'DISK'],
    ['a network errno outside the disk list', errno('ECONNREFUSED'), {}, 'INTERNAL'],
    ['a bug', new TypeError('x is undefined'), {}, 'INTERNAL'],
    ['a thrown string', 'oops', {}, 'INTERNAL'],
  ])('%s', (_what, error, context, code) => {
    const mapped = toUpdateError(error, 'checking for updates', context.signal, context.fetchFailure);
    expect(mapped).toBeInstanceOf(UpdateError);
    expect(mapped.code).toBe(code);
    // An UpdateError (thrown, or the fetch failure behind tuf-js's wrapper) is already worded; the rest say what failed.
    if (!(error instanceof UpdateError || context.fetchFailure instanceof UpdateError)) expect(mapped.message).toMatch(/^checking for updates: /);
  });

  it('says a full disk in words a user acts on', () => {
    expect(toUpdateError(errno('ENOSPC'), 'downloading 1.2.0').message).toBe('downloading 1.2.0: the disk is full; free some space and try again');
    expect(toUpdateError(new BundleError('DISK_FULL', 'x'), 'extracting').message).toBe('extracting: the disk is full; free some space and try again');
  });

  it('keeps what it wraps as the cause', () => {
    const cause = errno('EACCES');
    expect(toUpdateError(cause, 'x').cause).toBe(cause);
  });
});

describe('error payloads: what crosses IPC', () => {
  it.each<[string, unknown, { code: string; message: string }]>([
    ['an UpdateError keeps its code and message', new UpdateError('NETWORK', 'the server is down'), { code: 'NETWORK', message: 'the server is down' }],
    ['a file-system error becomes DISK', errno('EROFS', 'EROFS: read-only file system'), { code: 'DISK', message: 'the update worker: EROFS: read-only file system' }],
    ['a bug becomes INTERNAL', new TypeError('x is undefined'), { code: 'INTERNAL', message: 'the update worker: x is undefined' }],
  ])('%s', (_what, error, payload) => {
    const sent = toErrorPayload(error, 'the update worker');
    expect(sent).toEqual(payload);
    // Plain data: it survives structured clone, and the other side gets the same UpdateError back.
    const received = fromErrorPayload(structuredClone(sent));
    expect(received).toBeInstanceOf(UpdateError);
    expect({ code: received.code, message: received.message }).toEqual(payload);
  });
});
