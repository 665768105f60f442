import { readFileSync } from 'node:fs';
import { messageOf, parseTrustFile } from '@tufup/bundle/base';
import { UpdateError } from '../core/error.js';
import type { UpdaterOptions } from './config.js';

/** Where updates come from and whom to trust: what the first check reads from the shipped trust file. */
export interface UpdateSource {
  /** The repository's app name, as in its archive names. */
  appName: string;
  metadataUrl: string;
  targetsUrl: string;
  /** The root.json to start from (tuf-js's trusted root), as bytes. */
  trustedRoot: Uint8Array;
  /** What the trusted root was read from, for messages: a path, or "the trustedRoot bytes". */
  from: string;
}

function joinUrl(base: string, folder: string): string {
  try {
    return new URL(`${folder}/`, base.endsWith('/') ? base : `${base}/`).href;
  } catch (cause) {
    throw new UpdateError('CONFIG', `the repository URL "${base}" is not a URL`, { cause });
  }
}

/** True for JSON text of a TUF root.json (`{ signed: { _type: "root" } }`) rather than a trust file. */
function isPlainRoot(bytes: Uint8Array): boolean {
  try {
    const data = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed?: { _type?: unknown } } | null;
    return typeof data === 'object' && data !== null && data.signed?._type === 'root';
  } catch {
    return false;
  }
}

/**
 * Reads the trusted root the app ships: a trust file (`tufup.json`, written by `tufup-repo`: app name,
 * URL and root) or a plain `root.json`. The trust file names the app, so the updater finds its releases
 * whatever the app's `productName`; an `appName` option that contradicts it is a CONFIG error naming
 * both names, since it would otherwise never find an update. Options win over the trust file's URL (a
 * mirror); a plain root.json takes the app name from the options or `appName()` (`app.getName()`).
 * Throws CONFIG for anything missing or unreadable.
 */
export function readUpdateSource(
  options: Pick<UpdaterOptions, 'url' | 'metadataUrl' | 'targetsUrl' | 'appName' | 'mirrors' | 'urls'> & { trustedRoot: string | Uint8Array },
  appName: () => string,
): UpdateSource {
  const from = typeof options.trustedRoot === 'string' ? options.trustedRoot : 'the trustedRoot bytes';
  let bytes: Uint8Array;
  if (typeof options.trustedRoot === 'string') {
    try {
      bytes = readFileSync(options.trustedRoot);
    } catch (cause) {
      throw new UpdateError(
        'CONFIG',
        `the trusted root ${from} could not be read (${messageOf(cause)}): ship the repository's tufup.json in the app's resources folder (electron-builder: extraResources), or set trustedRoot`,
        { cause },
      );
    }
  } else {
    bytes = options.trustedRoot;
  }

  let name: string;
  let url = options.url;
  let root = bytes;
  if (isPlainRoot(bytes)) {
    name = options.appName ?? appName();
  } else {
    let trust;
    try {
      trust = parseTrustFile(bytes, from);
    } catch (cause) {
      throw new UpdateError('CONFIG', messageOf(cause), { cause });
    }
    if (options.appName !== undefined && options.appName !== trust.appName) {
      throw new UpdateError(
        'CONFIG',
        `the appName option is "${options.appName}", but the trust file ${from} is for "${trust.appName}" (the name given to tufup-repo init): leave appName out, or ship the trust file of "${options.appName}"'s repository`,
      );
    }
    name = trust.appName;
    url ??= trust.url;
    root = trust.root;
  }

  // Without a URL of its own, the first mirror the options name is the repository (the core tries the rest after it).
  url ??= options.mirrors?.[0] === undefined ? options.urls?.[0] : undefined;
  const metadataUrl = options.metadataUrl ?? options.mirrors?.[0]?.metadataUrl ?? (url === undefined ? undefined : joinUrl(url, 'metadata'));
  const targetsUrl = options.targetsUrl ?? options.mirrors?.[0]?.targetsUrl ?? (url === undefined ? undefined : joinUrl(url, 'targets'));
  if (metadataUrl === undefined || targetsUrl === undefined) {
    throw new UpdateError('CONFIG', `no repository URL: set the url (or urls, mirrors) option, or record one in the trust file (tufup-repo trust --url URL); ${from} has none`);
  }
  return { appName: name, metadataUrl, targetsUrl, trustedRoot: root, from };
}
