import semver from 'semver';
import { BundleError } from './error.js';

/**
 * Parses a strict semantic version (`1.2.3`, `1.3.0-beta.1`); no leading `v`, no spaces.
 * @param context names the file or flag the version came from, for the error message
 */
export function parseVersion(version: string, context?: string): string {
  const parsed = semver.valid(version);
  if (parsed === null || parsed !== version) {
    const where = context === undefined ? '' : ` in ${context}`;
    throw new BundleError(
      'INVALID_VERSION',
      `"${version}"${where} is not a semantic version such as 1.2.3 or 1.3.0-beta.1`,
    );
  }
  return parsed;
}

/** Orders two versions by semver precedence: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}

/** True for versions with a prerelease part such as `-beta.1`. */
export function isPrerelease(version: string): boolean {
  return semver.prerelease(version) !== null;
}

/** The prerelease channel of a version (`beta` for `1.3.0-beta.1`), or undefined for a release. */
export function channelOf(version: string): string | undefined {
  const pre = semver.prerelease(version);
  if (pre === null) return undefined;
  const first = pre[0];
  return typeof first === 'string' ? first : 'prerelease';
}
