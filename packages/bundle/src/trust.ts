import { BundleError, messageOf } from './error.js';
import { checkName } from './naming.js';

/**
 * The trust file an app ships (`<resources>/tufup.json`): which repository to follow and the root of
 * trust to start from. repo-tools writes it, the client reads it, both through this module.
 */
export const TRUST_FILE = 'tufup.json';

/** Format of {@link TrustFile}; a reader refuses a newer one rather than guess at it. */
export const TRUST_SCHEMA = 1;

/** A JSON object, as the embedded root metadata is. */
export type JsonObject = { [key: string]: JsonValue };
/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** The content of `tufup.json`. */
export interface TrustFile {
  schema: typeof TRUST_SCHEMA;
  /** The repository's app name (`tufup-repo init --app-name`), as in archive names. */
  appName: string;
  /** Base URL of the repository (`<url>/metadata/`, `<url>/targets/`), when the publisher recorded one. */
  url?: string;
  /**
   * The repository's `root.json` (`{ signed, signatures }`) as it was when the app was built. Clients
   * start from it and follow the chain of `N.root.json`, so a later key rotation needs no new app.
   */
  root: JsonObject;
}

/** A parsed trust file, with the root as bytes ready for a TUF client's trusted-root input. */
export interface ParsedTrustFile {
  appName: string;
  url?: string;
  /** The embedded `root.json` as JSON text (signatures cover canonical JSON, so any spacing verifies). */
  root: Uint8Array;
  /** The root's `signed.version`, for messages. */
  rootVersion: number;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(source: string, detail: string, cause?: unknown): BundleError {
  return new BundleError('INVALID_TRUST_FILE', `${source} is not a valid trust file: ${detail}`, cause === undefined ? undefined : { cause });
}

/** Returns `url` when it is an absolute http(s) URL; throws `fail(detail)` otherwise. */
function checkUrl(url: unknown, fail: (detail: string) => Error): string {
  if (typeof url !== 'string') throw fail('"url" must be a string');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail(`"url" ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw fail(`"url" ${JSON.stringify(url)} must be an http(s) URL`);
  return url;
}

/** Checks the shape of a root.json (`{ signed: { _type: "root", version }, signatures: [] }`); its version. */
function checkRoot(root: unknown, fail: (detail: string) => Error): number {
  if (!isObject(root) || !isObject(root.signed) || !Array.isArray(root.signatures)) {
    throw fail('"root" must be a root.json: { "signed": {...}, "signatures": [...] }');
  }
  if (root.signed._type !== 'root') throw fail(`"root" is ${JSON.stringify(root.signed._type)} metadata, not root`);
  const version = root.signed.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) throw fail('"root" has no valid version');
  return version;
}

/**
 * Reads a trust file. Checks its shape only: the root's signatures are the TUF client's to verify.
 * INVALID_TRUST_FILE names `source` and what is wrong; a newer schema is refused, not guessed at.
 */
export function parseTrustFile(bytes: Uint8Array | string, source = TRUST_FILE): ParsedTrustFile {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw invalid(source, 'it is not JSON', cause);
  }
  const fail = (detail: string): BundleError => invalid(source, detail);
  if (!isObject(data)) throw fail('it is not a JSON object');
  if (data.schema !== TRUST_SCHEMA) {
    // A plain root.json given where a trust file belongs is a common mix-up: say so.
    if (isObject(data.signed) && data.signed._type === 'root') throw fail('it is a root.json; make the trust file with "tufup-repo trust"');
    throw fail(`its schema is ${JSON.stringify(data.schema ?? null)}; this version of tufup reads schema ${TRUST_SCHEMA}`);
  }
  if (typeof data.appName !== 'string') throw fail('"appName" is missing');
  try {
    checkName(data.appName);
  } catch (cause) {
    throw invalid(source, messageOf(cause), cause);
  }
  const rootVersion = checkRoot(data.root, fail);
  const result: ParsedTrustFile = { appName: data.appName, root: Buffer.from(JSON.stringify(data.root)), rootVersion };
  if (data.url !== undefined) result.url = checkUrl(data.url, fail);
  return result;
}

/** What {@link serializeTrustFile} needs. */
export interface TrustFileInput {
  appName: string;
  url?: string;
  /** The repository's root.json: its bytes, or its JSON. */
  root: Uint8Array | JsonObject;
}

/**
 * The bytes of a trust file: two-space indented JSON with a final newline, `schema` first. Throws
 * INVALID_TRUST_FILE for input that {@link parseTrustFile} would refuse, so no unreadable file is written.
 */
export function serializeTrustFile(input: TrustFileInput): Buffer {
  const fail = (detail: string): BundleError => new BundleError('INVALID_TRUST_FILE', `cannot make a trust file: ${detail}`);
  try {
    checkName(input.appName);
  } catch (cause) {
    throw new BundleError('INVALID_TRUST_FILE', `cannot make a trust file: ${messageOf(cause)}`, { cause });
  }
  let root: unknown = input.root;
  if (input.root instanceof Uint8Array) {
    try {
      root = JSON.parse(Buffer.from(input.root.buffer, input.root.byteOffset, input.root.byteLength).toString('utf8'));
    } catch (cause) {
      throw new BundleError('INVALID_TRUST_FILE', 'cannot make a trust file: the root is not JSON', { cause });
    }
  }
  checkRoot(root, fail);
  const file: TrustFile = { schema: TRUST_SCHEMA, appName: input.appName, root: root as JsonObject };
  if (input.url !== undefined) file.url = checkUrl(input.url, fail);
  // url before root, so a person opening the file sees what it is about before the key material.
  const ordered = { schema: file.schema, appName: file.appName, ...(file.url === undefined ? {} : { url: file.url }), root: file.root };
  return Buffer.from(`${JSON.stringify(ordered, null, 2)}\n`);
}
