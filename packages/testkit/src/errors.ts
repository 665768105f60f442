import { expect } from 'vitest';

/**
 * An error class to check against. Passed by the caller, because a suite may hold two copies of one class
 * (its package's `src/` under test and the built `dist/` another package imports), and `instanceof` only
 * knows the copy it is given.
 */
export type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** The error `promise` rejects with; the calling test fails if it resolves or rejects with anything but a `kind`. */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, kind: ErrorClass<E>): Promise<E> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(kind);
  if (!(error instanceof kind)) throw new Error('unreachable: the expectation above failed');
  return error;
}

/** The error `fn` throws; the calling test fails if it returns or throws anything but a `kind`. */
export function thrownBy<E extends Error>(fn: () => unknown, kind: ErrorClass<E>): E {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(kind);
  if (!(error instanceof kind)) throw new Error('unreachable: the expectation above failed');
  return error;
}

/** The `code` of the typed error (`UpdateError`, `RepoError`, `BundleError` ...) `promise` rejects with. */
export async function codeOf<E extends Error & { readonly code: string }>(promise: Promise<unknown>, kind: ErrorClass<E>): Promise<E['code']> {
  return (await rejectionOf(promise, kind)).code;
}
