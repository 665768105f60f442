import { describe, expect, it } from 'vitest';
import {
  channelOf,
  checkName,
  compareVersions,
  isPrerelease,
  parseTargetFileName,
  parseTargetPath,
  parseVersion,
  platformKey,
  targetFileName,
  targetPath,
  type TargetId,
} from '../src/index.js';
import { expectThrowsCode } from './helpers.js';

describe('versions', () => {
  it.each(['1.2.3', '0.0.1', '1.3.0-beta.1', '10.20.30'])('accepts the semantic version %s', (v) => {
    expect(parseVersion(v)).toBe(v);
  });

  // Build metadata (`+build.5`) is refused too: semver ignores it when ordering, so two releases could tie.
  it.each(['v1.2', '1.2', '01.2.3', ' 1.2.3', '1.2.3 ', 'v1.2.3', '1.2.3.4', '', 'latest', '2.0.0+build.5'])(
    'refuses "%s" with INVALID_VERSION, naming the file it came from',
    (v) => {
      const error = expectThrowsCode(() => parseVersion(v, 'release.json'), 'INVALID_VERSION');
      expect(error.message).toContain('release.json');
    },
  );

  it('orders versions by semver precedence, prereleases before their release', () => {
    const sorted = ['1.10.0', '1.2.0', '1.3.0-beta.2', '1.3.0', '1.3.0-beta.10'].sort(compareVersions);
    expect(sorted).toEqual(['1.2.0', '1.3.0-beta.2', '1.3.0-beta.10', '1.3.0', '1.10.0']);
  });

  it('tells prereleases and their channel', () => {
    expect(isPrerelease('1.3.0-beta.1')).toBe(true);
    expect(isPrerelease('1.3.0')).toBe(false);
    expect(channelOf('1.3.0-beta.1')).toBe('beta');
    expect(channelOf('1.3.0')).toBeUndefined();
  });
});

describe('app names', () => {
  it.each(['MyApp', 'my-app', 'my_app2', 'app-2-x64', 'A'])('accepts %s', (name) => {
    expect(checkName(name)).toBe(name);
  });

  it.each(['', 'my app', 'my.app', 'my/app', 'app@1', 'äpp', '../app'])('refuses "%s" with INVALID_NAME', (name) => {
    expectThrowsCode(() => checkName(name), 'INVALID_NAME');
  });
});

describe('target file names and paths', () => {
  it('formats archive, patch and entry list names', () => {
    expect(targetFileName('MyApp', '1.2.3', 'archive')).toBe('MyApp-1.2.3.tar.gz');
    expect(targetFileName('MyApp', '1.3.0-beta.1', 'patch')).toBe('MyApp-1.3.0-beta.1.patch');
    expect(targetFileName('MyApp', '1.3.0-beta.1', 'entries')).toBe('MyApp-1.3.0-beta.1.entries');
  });

  it('names entry lists so that clients before them skip the target: it is neither <name>-<version>.tar.gz nor .patch', () => {
    // The pattern those clients parse target names with (naming.ts before the entries target): a target
    // whose name it refuses is skipped with a debug line, and nothing else about the catalog changes.
    const before = /^([A-Za-z0-9_-]+?)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)\.(tar\.gz|patch)$/;
    for (const version of ['1.2.3', '1.3.0-beta.1', '2.0.0-tar.gz', '2.0.0-rc.patch']) {
      expect(before.test(targetFileName('MyApp', version, 'entries'))).toBe(false);
      expect(before.test(targetFileName('MyApp', version, 'archive'))).toBe(true);
    }
  });

  it('refuses to format a name for an invalid app name or version', () => {
    expectThrowsCode(() => targetFileName('My App', '1.2.3', 'archive'), 'INVALID_NAME');
    expectThrowsCode(() => targetFileName('MyApp', 'v1.2.3', 'archive'), 'INVALID_VERSION');
  });

  const ids: TargetId[] = [
    { name: 'MyApp', version: '1.2.3', kind: 'archive', platform: 'linux', arch: 'x64' },
    { name: 'MyApp', version: '1.3.0-beta.1', kind: 'patch', platform: 'darwin', arch: 'arm64' },
    // A name that itself contains dashes and digits, the hard case for splitting name from version.
    { name: 'my-app-2-x64', version: '2.0.0', kind: 'patch', platform: 'win32', arch: 'x64' },
    { name: 'app-1', version: '1.0.0-rc.1', kind: 'archive', platform: 'linux', arch: 'arm64' },
    { name: 'MyApp', version: '1.2.3', kind: 'entries', platform: 'win32', arch: 'x64' },
    // A prerelease whose last part looks like another suffix.
    { name: 'app', version: '1.0.0-rc.entries', kind: 'patch', platform: 'linux', arch: 'x64' },
    { name: 'app', version: '1.0.0-rc.patch', kind: 'entries', platform: 'linux', arch: 'x64' },
  ];

  it.each(ids)('round-trips the target path of $name $version ($kind)', (id) => {
    const path = targetPath(id);
    expect(path.startsWith(`${id.platform}-${id.arch}/`)).toBe(true);
    expect(parseTargetPath(path)).toEqual(id);
    expect(parseTargetFileName(targetFileName(id.name, id.version, id.kind))).toEqual({ name: id.name, version: id.version, kind: id.kind });
  });

  it('splits a dashed, numbered name from its version', () => {
    expect(parseTargetFileName('my-app-2-1.2.3.tar.gz')).toEqual({ name: 'my-app-2', version: '1.2.3', kind: 'archive' });
    expect(parseTargetFileName('tool-3d-1.3.0-beta.1.patch')).toEqual({ name: 'tool-3d', version: '1.3.0-beta.1', kind: 'patch' });
  });

  it.each(['MyApp-1.2.3.zip', 'MyApp.tar.gz', 'MyApp-1.2.tar.gz', '-1.2.3.tar.gz', 'My App-1.2.3.patch', 'MyApp-1.2.3.tar.gz.sig', 'MyApp-1.2.3.entries.json', 'MyApp-1.2.3.entries.gz'])(
    'refuses the file name "%s" with INVALID_FILENAME',
    (file) => {
      expectThrowsCode(() => parseTargetFileName(file), 'INVALID_FILENAME');
    },
  );

  it('refuses a file name whose version is not strict semver with INVALID_VERSION naming the file', () => {
    const error = expectThrowsCode(() => parseTargetFileName('MyApp-01.2.3.tar.gz'), 'INVALID_VERSION');
    expect(error.message).toContain('MyApp-01.2.3.tar.gz');
  });

  it.each(['MyApp-1.2.3.tar.gz', 'linux/MyApp-1.2.3.tar.gz', 'linux-x64/sub/MyApp-1.2.3.tar.gz', 'linux-x64/'])(
    'refuses the target path "%s" with INVALID_FILENAME',
    (path) => {
      expectThrowsCode(() => parseTargetPath(path), 'INVALID_FILENAME');
    },
  );

  it('refuses platforms and arches that are not lower-case letters and digits', () => {
    expect(platformKey('darwin', 'arm64')).toBe('darwin-arm64');
    expectThrowsCode(() => platformKey('Linux', 'x64'), 'INVALID_NAME');
    expectThrowsCode(() => platformKey('linux', 'x86_64'), 'INVALID_NAME');
    expectThrowsCode(() => parseTargetPath('Linux-x64/MyApp-1.2.3.tar.gz'), 'INVALID_NAME');
  });
});
