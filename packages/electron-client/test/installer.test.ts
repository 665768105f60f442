import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installerCommand, installerPidPath, installFiles, installFolder, shippedScript, startInstaller, type InstallRequest } from '../src/install/installer.js';
import { installerRunning, readInstallOutcome } from '../src/install/outcome.js';

const request: InstallRequest = {
  pid: 4242,
  installDir: '/opt/Demo App',
  stagedDir: '/home/u/.config/demo/tufup/staged/2.0.0',
  version: '2.0.0',
  cacheDir: '/home/u/.config/demo/tufup',
  relaunch: ['/opt/Demo App/demo', '--flag', 'with "quotes"', '-Version'],
  healthTimeoutMs: 1500,
  waitTimeoutMs: 60_000,
};

/** Options an argument list passes, by name (`--pid` or `-AppPid`), with their values. */
function named(args: readonly string[], prefix: RegExp): Map<string, string> {
  const found = new Map<string, string>();
  for (let i = 0; i < args.length - 1; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    if (prefix.test(arg)) found.set(arg, args[i + 1]!);
  }
  return found;
}

describe('the installer command line', () => {
  it('runs the POSIX script with every option and the relaunch command after --', () => {
    const { command, args } = installerCommand({ ...request, platform: 'linux' });
    expect(command).toBe('/bin/sh');
    expect(args[0]).toBe(installFiles({ ...request, platform: 'linux' }).script);
    const options = named(args.slice(1), /^--[a-z]/);
    expect(Object.fromEntries(options)).toMatchObject({ '--pid': '4242', '--install': '/opt/Demo App', '--version': '2.0.0', '--health-timeout': '2', '--wait-timeout': '60' });
    expect(args.slice(args.indexOf('--') + 1)).toEqual(request.relaunch);
  });

  it('keeps the backup beside the install folder, so moving it aside is a rename', () => {
    expect(installFiles(request).backup).toBe('/opt/.Demo App.tufup-backup');
  });

  it('passes only options the POSIX script knows', async () => {
    const script = await readFile(shippedScript('linux'), 'utf8');
    const known = new Set([...script.matchAll(/^\s+(--[a-z-]+)\) \w+=/gm)].map((m) => m[1]));
    for (const mode of ['install', 'finish'] as const) {
      const { args } = installerCommand({ ...request, platform: 'linux', mode, keep: ['Uninstall *.exe'] });
      for (const option of named(args.slice(1), /^--[a-z]/).keys()) expect(known).toContain(option);
    }
  });

  it('hands the files to keep over one by one to sh, and as base64 JSON to PowerShell', () => {
    const keep = ['Uninstall *.exe', 'resources/package-type'];
    const sh = installerCommand({ ...request, platform: 'linux', keep }).args;
    expect(sh.flatMap((arg, i) => (arg === '--keep' ? [sh[i + 1]] : []))).toEqual(keep);
    const ps = installerCommand({ ...request, platform: 'win32', keep }).args;
    expect(JSON.parse(Buffer.from(ps[ps.indexOf('-Keep') + 1]!, 'base64').toString('utf8'))).toEqual(keep);
  });

  it('asks the script to finish an interrupted run only when told to, on both systems', () => {
    expect(named(installerCommand({ ...request, platform: 'linux' }).args, /^--[a-z]/).has('--mode')).toBe(false);
    expect(named(installerCommand({ ...request, platform: 'linux', mode: 'finish' }).args, /^--[a-z]/).get('--mode')).toBe('finish');
    expect(named(installerCommand({ ...request, platform: 'win32', mode: 'finish' }).args, /^-[A-Z]/).get('-Mode')).toBe('finish');
  });

  it('runs the PowerShell script hidden, with parameters it declares and the relaunch command intact', async () => {
    const { command, args } = installerCommand({ ...request, platform: 'win32' });
    expect(command).toBe('powershell.exe');
    const file = args.indexOf('-File');
    expect(args.slice(0, file)).toEqual(['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-WindowStyle', 'Hidden']);
    const script = await readFile(shippedScript('win32'), 'utf8');
    const declared = new Set([...script.matchAll(/\[(?:int|string)\]\$(\w+)/g)].map((m) => `-${m[1] ?? ''}`));
    const options = named(args.slice(file + 2), /^-[A-Z]/);
    for (const option of options.keys()) expect(declared).toContain(option);
    expect(options.get('-AppPid')).toBe('4242');
    expect(JSON.parse(Buffer.from(options.get('-Relaunch')!, 'base64').toString('utf8'))).toEqual(request.relaunch);
  });

  it('leaves the relaunch out when none is asked for', () => {
    expect(installerCommand({ ...request, relaunch: [], platform: 'linux' }).args).not.toContain('--');
    expect(installerCommand({ ...request, relaunch: [], platform: 'win32' }).args).not.toContain('-Relaunch');
  });
});

describe('starting the installer', () => {
  it('forgets the last installer\'s pid, so an installer that could not start is not taken for one at work', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'tufup-installer-'));
    const path = process.env.PATH;
    try {
      await mkdir(installFolder(cacheDir), { recursive: true });
      // The pid the last installer had, since taken by a process that runs (this one).
      await writeFile(installerPidPath(cacheDir), `${process.pid}\n`);
      // A PATH without PowerShell: the installer's spawn fails, as it does when the shell is missing.
      process.env.PATH = cacheDir;
      const child = startInstaller({ ...request, cacheDir, stagedDir: join(cacheDir, 'staged', '2.0.0'), platform: 'win32' });
      process.env.PATH = path;
      await once(child, 'error');
      expect(await readInstallOutcome(cacheDir)).toEqual({ status: 'started', version: '2.0.0' });
      expect(await installerRunning(cacheDir)).toBe(false);
    } finally {
      process.env.PATH = path;
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
