import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cliOk, listFiles, NODE, runCli, tempDir, type CliRun } from './helpers/fixtures.js';

interface KeyChangeJson {
  removed: string[];
  added: { keyid: string; file: string }[];
  retired: { keyid: string; deleted: string[]; kept: unknown[] }[];
}

// What the keys folder holds after the key commands, and who may open it.
describe('the keys folder', () => {
  let tmp: string;
  let cleanup: () => Promise<void>;
  let repo: string;
  let keys: string;

  const cli = (...args: string[]): Promise<CliRun> => cliOk([...args, '--repo', repo, '--keys-dir', keys]);
  const keyFiles = async (): Promise<string[]> => (await listFiles(keys)).filter((f) => f.endsWith('.pem'));
  const filesOf = async (keyid: string): Promise<string[]> => (await keyFiles()).filter((f) => f.endsWith(`.${keyid}.pem`));
  const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

  beforeEach(async () => {
    ({ dir: tmp, cleanup } = await tempDir());
    repo = join(tmp, 'repo');
    keys = join(tmp, 'keys');
    await cli('init', '--app-name', 'demo');
  });
  afterEach(() => cleanup());

  it('keys rotate deletes the private key it retires, for a signing role and for root, and the new keys sign', async () => {
    for (const role of ['targets', 'root']) {
      const run = await cli('keys', 'rotate', role, '--json');
      const result = JSON.parse(run.stdout) as KeyChangeJson;
      const [old] = result.removed;
      expect(old, role).toBeDefined();
      expect(await filesOf(old!), role).toEqual([]);
      expect(result.retired, role).toEqual([{ keyid: old, deleted: [join(keys, `${role}.${old!}.pem`)], kept: [] }]);
      expect(await filesOf(result.added[0]!.keyid), role).toEqual([`${role}.${result.added[0]!.keyid}.pem`]);
    }
    expect(await keyFiles()).toHaveLength(4);
    // The keys left are exactly the ones the repository needs: every role signs.
    await cli('sign', '--role', 'targets');
    const text = (await cli('keys', 'rotate', 'snapshot')).stdout;
    expect(text).toMatch(/deleted the retired private key file .*snapshot\.[0-9a-f]{64}\.pem/);
    expect(text).toContain('destroy every other copy of it');
  });

  it('keys remove deletes the removed key and keeps the others of the role', async () => {
    const first = (JSON.parse((await cli('status', '--json')).stdout) as { roles: { role: string; keyids: string[] }[] }).roles.find((r) => r.role === 'snapshot')!.keyids[0]!;
    const added = JSON.parse((await cli('keys', 'add', 'snapshot', '--json')).stdout) as KeyChangeJson;
    const second = added.added[0]!.keyid;
    const removed = JSON.parse((await cli('keys', 'remove', 'snapshot', first.slice(0, 12), '--json')).stdout) as KeyChangeJson;
    expect(removed.retired).toEqual([{ keyid: first, deleted: [join(keys, `snapshot.${first}.pem`)], kept: [] }]);
    expect(await filesOf(first)).toEqual([]);
    expect(await filesOf(second)).toEqual([`snapshot.${second}.pem`]);
    await cli('sign', '--role', 'snapshot');
  });

  it('a retired key held outside the keys folder is named, so its holder can destroy it', async () => {
    const outside = join(tmp, 'offline');
    await mkdir(outside);
    const [timestampFile] = (await keyFiles()).filter((f) => f.startsWith('timestamp.'));
    await rename(join(keys, timestampFile!), join(outside, timestampFile!));
    const env = { TUFUP_KEY_TIMESTAMP: await readFile(join(outside, timestampFile!), 'utf8') };
    const run = await cliOk(['keys', 'rotate', 'timestamp', '--repo', repo, '--keys-dir', keys], { env });
    const old = /^timestamp\.([0-9a-f]{64})\.pem$/.exec(timestampFile!)![1]!;
    expect(run.stdout).toContain(`warning: key ${old} is retired; it had no file in the keys folder: destroy every other copy of it`);
  });

  it('a key change that fails deletes no key file', async () => {
    const before = await keyFiles();
    const [rootFile] = before.filter((f) => f.startsWith('root.'));
    await rename(join(keys, rootFile!), join(tmp, rootFile!));
    const run = await runCli(['keys', 'rotate', 'targets', '--repo', repo, '--keys-dir', keys]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('[MISSING_KEY]');
    expect(await keyFiles()).toEqual(before.filter((f) => f !== rootFile));
  });

  it('a keys folder other users may open is made 0700 by the next command, which says so', async () => {
    await chmod(keys, 0o777);
    const run = await cli('status');
    expect(await mode(keys)).toBe(0o700);
    expect(run.stderr).toContain(`the keys folder ${keys} was open to other users (mode 0777); it is now 0700`);
    expect((await cli('status')).stderr).toBe('');
  });

  it('init into an existing keys folder that others may open makes it 0700', async () => {
    const shared = join(tmp, 'shared-keys');
    await mkdir(shared, { mode: 0o755 });
    await chmod(shared, 0o755);
    await cliOk(['init', '--app-name', 'demo', '--repo', join(tmp, 'repo2'), '--keys-dir', shared]);
    expect(await mode(shared)).toBe(0o700);
  });

  const asRoot = process.getuid?.() === 0;
  it.skipIf(!asRoot)(`a keys folder the user cannot change is reported with a warning, and the command still runs${asRoot ? '' : ' (skipped: needs root to make a folder owned by someone else)'}`, async () => {
    // The folder belongs to root; the CLI runs as nobody, who may read the repository but not chmod the folder.
    await chmod(tmp, 0o755);
    await chmod(keys, 0o777);
    await chown(repo, 0, 0);
    const run = await new Promise<CliRun>((resolveRun) => {
      const child = spawn(NODE, [CLI, 'status', '--repo', repo, '--keys-dir', keys], { uid: 65534, gid: 65534, env: { PATH: process.env.PATH } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
    });
    expect(run.stderr).toContain(`warning: the keys folder ${keys} is open to other users (mode 0777) and could not be made 0700 (EPERM)`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('demo:');
    expect(await mode(keys)).toBe(0o777);
  });
});
