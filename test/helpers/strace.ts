// A durability checker built on strace: runs real programs (the client core, tufup-repo, install.sh) under
// `strace -f -y` and replays the file-system calls they made on a model of what a power cut could lose.
//
// The model follows POSIX and ext4: data written to a file, a mode change, and every name created, renamed
// or removed in a folder stay in memory until an fsync of that file or folder (or a sync/syncfs of the file
// system). A rename that publishes a file or folder is durable only when
//   1. everything it moves (the file, or every file and folder below the folder) was fsynced before it, and
//   2. the folder that holds the new name -- and every folder above it, up to the published root, that
//      changed -- is fsynced after it, before the next publishing rename or removal, and before the end.
// Otherwise a power cut can leave the new name with empty files, or an order the reader never expected
// (a staged record without its folder, timestamp.json naming metadata that is not there).
import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';

const SYSCALLS = [
  'execve',
  'clone',
  'clone3',
  'fork',
  'vfork',
  'open',
  'openat',
  'creat',
  'mkdir',
  'mkdirat',
  'rename',
  'renameat',
  'renameat2',
  'link',
  'linkat',
  'symlink',
  'symlinkat',
  'unlink',
  'unlinkat',
  'rmdir',
  'chmod',
  'fchmod',
  'fchmodat',
  'fsync',
  'fdatasync',
  'syncfs',
  'sync',
] as const;

/** Whether strace can trace here (installed, and ptrace allowed); the reason when it cannot. */
export function straceMissing(): string | undefined {
  const probe = spawnSync('strace', ['-f', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
  if (probe.error !== undefined) return 'strace is not installed (.ci/run installs it)';
  if (probe.status !== 0) return 'strace cannot trace here (ptrace refused)';
  return undefined;
}

/** Runs `command` under strace; resolves with its exit code once it and every child it started have exited. */
export async function runTraced(log: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<number | null> {
  const child = spawn('strace', ['-f', '-y', '-qq', '-s', '4096', '-o', log, '-e', `trace=${SYSCALLS.join(',')}`, command, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

/** One file-system call that matters to durability, in the order the kernel completed them. */
export type Op =
  | { kind: 'exec'; pid: number; program: string }
  | { kind: 'spawn'; pid: number; child: number }
  | { kind: 'write'; pid: number; path: string; created: boolean }
  | { kind: 'mkdir'; pid: number; path: string }
  | { kind: 'link'; pid: number; path: string }
  | { kind: 'remove'; pid: number; path: string }
  | { kind: 'chmod'; pid: number; path: string }
  | { kind: 'rename'; pid: number; from: string; to: string; exchange: boolean }
  | { kind: 'fsync'; pid: number; path: string }
  | { kind: 'sync-all'; pid: number };

/** Splits strace's argument list at top-level commas (not inside quotes, brackets or `<fd paths>`). */
function splitArgs(text: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      current += c;
      if (c === '\\') current += text[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if ('[{<('.includes(c)) depth++;
    else if (']}>)'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  if (current.trim() !== '') args.push(current.trim());
  return args;
}

/** The string of a quoted argument (`"a\"b"`), with strace's escapes undone. */
function unquote(arg: string): string {
  const match = /^"((?:[^"\\]|\\.)*)"/.exec(arg);
  if (match === null) throw new Error(`not a string argument: ${arg}`);
  return match[1]!.replace(/\\(x[0-9a-f]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e.startsWith('x')) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', t: '\t', r: '\r', v: '\v', f: '\f' } as Record<string, string>)[e] ?? e;
  });
}

/** The path `-y` shows for a descriptor argument: `3</tmp/x>` or `AT_FDCWD</tmp>`. */
function fdPath(arg: string): string | undefined {
  return /<(.*)>$/.exec(arg)?.[1];
}

/** A path argument resolved against its directory descriptor (the `*at` calls) when relative. */
function resolvePath(dirArg: string | undefined, pathArg: string): string | undefined {
  const path = unquote(pathArg);
  if (isAbsolute(path)) return path;
  const base = dirArg === undefined ? undefined : fdPath(dirArg);
  return base === undefined ? undefined : join(base, path);
}

/** Parses a `strace -f -y` log into the operations above; failed calls are dropped. */
export function parseTrace(text: string): Op[] {
  const ops: Op[] = [];
  const pending = new Map<string, string>();
  for (const raw of text.split('\n')) {
    let line = raw;
    const head = /^(\d+) +(.*)$/.exec(line);
    if (head === null) continue;
    const pid = Number(head[1]);
    let body = head[2]!;
    if (body.endsWith('<unfinished ...>')) {
      pending.set(String(pid), body.slice(0, -'<unfinished ...>'.length).trimEnd());
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(body);
    if (resumed !== null) {
      body = (pending.get(String(pid)) ?? '') + resumed[1]!;
      pending.delete(String(pid));
    }
    line = body;
    const call = /^(\w+)\((.*)\) += (-?\d+)(<([^>]*)>)?/.exec(line);
    if (call === null) continue;
    const [, name = '', argText = '', retText = ''] = call;
    if (Number(retText) < 0) continue;
    const retPath = call[5];
    if (/^(clone3?|v?fork)$/.test(name)) {
      ops.push({ kind: 'spawn', pid, child: Number(retText) });
      continue;
    }
    const args = splitArgs(argText);
    const op = toOp(pid, name, args, retPath);
    if (op !== undefined) ops.push(op);
  }
  return ops;
}

function toOp(pid: number, name: string, args: string[], retPath: string | undefined): Op | undefined {
  const a = (i: number): string => args[i] ?? '';
  switch (name) {
    case 'execve':
      return { kind: 'exec', pid, program: basename(unquote(a(0))) };
    case 'open':
    case 'openat':
    case 'creat': {
      const flags = name === 'creat' ? 'O_CREAT|O_WRONLY' : name === 'open' ? a(1) : a(2);
      if (!/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(flags) || retPath === undefined) return undefined;
      return { kind: 'write', pid, path: retPath, created: /O_CREAT/.test(flags) };
    }
    case 'mkdir':
    case 'mkdirat':
      return pathOp(pid, 'mkdir', name === 'mkdirat' ? a(0) : undefined, name === 'mkdirat' ? a(1) : a(0));
    case 'link':
      return pathOp(pid, 'link', undefined, a(1));
    case 'linkat':
      return pathOp(pid, 'link', a(2), a(3));
    case 'symlink':
      return pathOp(pid, 'link', undefined, a(1));
    case 'symlinkat':
      return pathOp(pid, 'link', a(1), a(2));
    case 'unlink':
    case 'rmdir':
      return pathOp(pid, 'remove', undefined, a(0));
    case 'unlinkat':
      return pathOp(pid, 'remove', a(0), a(1));
    case 'chmod':
      return pathOp(pid, 'chmod', undefined, a(0));
    case 'fchmodat':
      return pathOp(pid, 'chmod', a(0), a(1));
    case 'fchmod': {
      const path = fdPath(a(0));
      return path === undefined ? undefined : { kind: 'chmod', pid, path };
    }
    case 'rename': {
      const from = resolvePath(undefined, a(0));
      const to = resolvePath(undefined, a(1));
      return from === undefined || to === undefined ? unresolved(name, args) : { kind: 'rename', pid, from, to, exchange: false };
    }
    case 'renameat':
    case 'renameat2': {
      const from = resolvePath(a(0), a(1));
      const to = resolvePath(a(2), a(3));
      if (from === undefined || to === undefined) return unresolved(name, args);
      return { kind: 'rename', pid, from, to, exchange: /RENAME_EXCHANGE/.test(a(4)) };
    }
    case 'fsync':
    case 'fdatasync': {
      const path = fdPath(a(0));
      return path === undefined ? undefined : { kind: 'fsync', pid, path };
    }
    case 'syncfs':
    case 'sync':
      return { kind: 'sync-all', pid };
    default:
      return undefined;
  }
}

function pathOp(pid: number, kind: 'mkdir' | 'link' | 'remove' | 'chmod', dirArg: string | undefined, pathArg: string): Op | undefined {
  const path = resolvePath(dirArg, pathArg);
  return path === undefined ? unresolved(kind, [pathArg]) : { kind, pid, path };
}

function unresolved(name: string, args: string[]): never {
  throw new Error(`cannot resolve the paths of ${name}(${args.join(', ')}): a relative path without a directory descriptor`);
}

/** One publishing rename and what the model found about it. */
export interface RenameCheck {
  program: string;
  from: string;
  to: string;
  exchange: boolean;
  /** What it moved that was not fsynced before it ([] when everything was). */
  unsynced: string[];
  /** Folders that held the new name (or its new parents) and were not fsynced after it, in time. */
  unsyncedFolders: string[];
  /** What came next, before which the folder had to be synced. */
  before: string;
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/**
 * Replays `ops` and checks every rename whose new name lies inside one of `roots` (the published folders:
 * the staged folder, a repository, the install folder's parent). Renames elsewhere (caches verified before
 * use) are not checked.
 */
export function checkDurability(ops: readonly Op[], roots: readonly string[]): RenameCheck[] {
  /** Files and folders whose data, mode or entries are not on disk yet. */
  const dirty = new Set<string>();
  /** Names this run made or opened, so re-opening one with O_CREAT is not taken for a new name. */
  const known = new Set<string>();
  const programs = new Map<number, string>();
  const checks: RenameCheck[] = [];
  /** Publishing renames whose folders still await their fsync, and which folders those are. */
  let waiting: { check: RenameCheck; needs: Set<string> }[] = [];

  const below = (set: Set<string>, path: string): string[] => [...set].filter((p) => inside(p, path));
  /** The folders a rename to `to` must see fsynced: the new name's folder, and those above it up to the root that changed. */
  const foldersToSync = (to: string, root: string): Set<string> => {
    const needs = new Set([dirname(to)]);
    for (let dir = dirname(dirname(to)); inside(dir, root); dir = dirname(dir)) {
      if (dirty.has(dir)) needs.add(dir);
      if (dir === root) break;
    }
    return needs;
  };
  const settle = (before: string): void => {
    for (const { check, needs } of waiting) {
      check.unsyncedFolders = [...needs];
      check.before = before;
    }
    waiting = [];
  };
  const rootOf = (path: string): string | undefined => roots.find((r) => inside(path, r));
  /** Renames what a set knows below `from` to below `to` (both ways for an exchange). */
  const move = (set: Set<string>, from: string, to: string, exchange: boolean): void => {
    const there = below(set, from).map((p) => to + p.slice(from.length));
    const back = exchange ? below(set, to).map((p) => from + p.slice(to.length)) : [];
    for (const p of [...below(set, from), ...below(set, to)]) set.delete(p);
    for (const p of [...there, ...back]) set.add(p);
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'exec':
        programs.set(op.pid, op.program);
        break;
      case 'spawn':
        // A thread or a child before its exec: named after its parent.
        programs.set(op.child, programs.get(op.pid) ?? String(op.pid));
        break;
      case 'write':
        dirty.add(op.path);
        if (op.created && !known.has(op.path)) dirty.add(dirname(op.path));
        known.add(op.path);
        break;
      case 'mkdir':
        dirty.add(op.path);
        dirty.add(dirname(op.path));
        known.add(op.path);
        break;
      case 'link':
        // A symlink or hard link is a name in its folder; it has no data of its own to sync.
        dirty.add(dirname(op.path));
        known.add(op.path);
        break;
      case 'chmod':
        dirty.add(op.path);
        break;
      case 'remove':
        if (waiting.length > 0 && rootOf(op.path) !== undefined) settle(`${programs.get(op.pid) ?? op.pid} removed ${op.path}`);
        for (const p of below(dirty, op.path)) dirty.delete(p);
        for (const p of below(known, op.path)) known.delete(p);
        dirty.add(dirname(op.path));
        break;
      case 'fsync':
        dirty.delete(op.path);
        for (const { needs } of waiting) needs.delete(op.path);
        break;
      case 'sync-all':
        dirty.clear();
        for (const { needs } of waiting) needs.clear();
        break;
      case 'rename': {
        const root = rootOf(op.to);
        const program = programs.get(op.pid) ?? String(op.pid);
        if (root !== undefined) {
          settle(`${program} renamed ${op.from} to ${op.to}`);
          const unsynced = [...below(dirty, op.from), ...(op.exchange ? below(dirty, op.to) : [])];
          const check: RenameCheck = { program, from: op.from, to: op.to, exchange: op.exchange, unsynced, unsyncedFolders: [], before: '' };
          checks.push(check);
          waiting.push({ check, needs: foldersToSync(op.to, root) });
        }
        move(dirty, op.from, op.to, op.exchange);
        move(known, op.from, op.to, op.exchange);
        known.add(op.to);
        dirty.add(dirname(op.from));
        dirty.add(dirname(op.to));
        break;
      }
    }
  }
  settle('the end of the run');
  return checks;
}

/** Reads and checks a trace log. */
export async function checkTraceLog(log: string, roots: readonly string[]): Promise<RenameCheck[]> {
  return checkDurability(parseTrace(await readFile(log, 'utf8')), roots);
}

/** A rename check in one line, for tables and failure messages. */
export function describeCheck(check: RenameCheck, shorten: (path: string) => string = (p) => p): string {
  const verdict =
    check.unsynced.length === 0 && check.unsyncedFolders.length === 0
      ? 'durable'
      : [
          check.unsynced.length > 0 ? `not fsynced before: ${check.unsynced.map(shorten).join(', ')}` : '',
          check.unsyncedFolders.length > 0 ? `folder not fsynced after (before ${shorten(check.before)}): ${check.unsyncedFolders.map(shorten).join(', ')}` : '',
        ]
          .filter((s) => s !== '')
          .join('; ');
  return `${check.program}: ${check.exchange ? 'exchange' : 'rename'} ${shorten(check.from)} -> ${shorten(check.to)}: ${verdict}`;
}
