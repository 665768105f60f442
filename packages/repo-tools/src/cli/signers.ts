import { DEFAULT_SIGNER_TIMEOUT_MS, CommandSigner } from '../signer-command.js';
import type { Signer } from '../signer.js';
import { checkPositive } from '../config.js';
import { list, number, readTextFile, str, usage, type Options, type Parsed } from './command.js';

/** The options that bring signers held outside this process (KMS, HSM, YubiKey) to any command. */
export const SIGNER_OPTIONS: Options = {
  'signer-command': { type: 'string', multiple: true },
  'signer-public-key': { type: 'string', multiple: true },
  'signer-timeout': { type: 'string' },
};

export const SIGNER_HELP = `  --signer-command CMD    sign with a key held by CMD (a KMS CLI, an HSM tool): payload on stdin,
                          base64 signature on stdout; repeatable (docs/repo-tools.md, "Signing with a command")
  --signer-public-key FILE  the public key of the --signer-command of the same position, instead of
                          asking CMD (TUFUP_SIGNER_OP=public-key)
  --signer-timeout SECONDS  how long a signer command may take (default ${DEFAULT_SIGNER_TIMEOUT_MS / 1000})`;

/**
 * The command signers the command line names, each with its public key (asked from the command, or read
 * from the `--signer-public-key` of the same position). Their stderr (prompts, KMS errors) reaches the user.
 */
export async function signersOf(args: Parsed): Promise<Signer[]> {
  const commands = list(args, 'signer-command');
  const keys = list(args, 'signer-public-key');
  if (keys.length > 0 && keys.length !== commands.length) {
    throw usage(`give one --signer-public-key per --signer-command (${commands.length} command(s), ${keys.length} key(s)), or none`);
  }
  const seconds = str(args, 'signer-timeout');
  const timeoutMs = seconds === undefined ? DEFAULT_SIGNER_TIMEOUT_MS : checkPositive(number(seconds, '--signer-timeout'), '--signer-timeout', false) * 1000;
  const signers: Signer[] = [];
  for (const [i, command] of commands.entries()) {
    const keyFile = keys[i];
    const publicKey = keyFile === undefined ? undefined : await readTextFile(keyFile, 'signer public key');
    signers.push(await CommandSigner.create({ command, timeoutMs, ...(publicKey === undefined ? {} : { publicKey }) }));
  }
  return signers;
}
