import { parseArgs } from 'node:util';
import { errnoOf, messageOf } from '@tufup/bundle';
import { ROLES } from '../config.js';
import { RepoError } from '../error.js';
import { add } from './add.js';
import { COMMON, COMMON_HELP, type Command, type Parsed } from './command.js';
import { init } from './init.js';
import { keys } from './keys.js';
import { prune } from './prune.js';
import { publish } from './publish.js';
import { remove } from './remove.js';
import { root } from './root.js';
import { rollout } from './rollout.js';
import { sign } from './sign.js';
import { status } from './status.js';
import { threshold } from './threshold.js';
import { trust } from './trust.js';
import { verify } from './verify.js';
import { unyank, yank } from './yank.js';

/** Exit codes: 0 done, 1 the command failed, 2 the command line was wrong. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Every command, in the order the main help lists them. A new command is a file in this folder and a line here. */
const COMMANDS: Record<string, Command> = { init, add, rollout, yank, unyank, sign, keys, threshold, root, remove, prune, status, verify, trust, publish };

const MAIN_HELP = `tufup-repo: create, sign and publish a TUF update repository for an Electron app

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(12)}${command.summary}`)
  .join('\n')}

Run "tufup-repo COMMAND --help" for a command's options. Roles: ${ROLES.join(', ')}.
${COMMON_HELP}`;

/** Runs the CLI; returns the exit code. The program is bin/tufup-repo.js, which checks the Node version first. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${MAIN_HELP}\n`);
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${MAIN_HELP}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`tufup-repo: unknown command "${name}"\n\n${MAIN_HELP}\n`);
    return EXIT_USAGE;
  }
  let json = rest.includes('--json');
  try {
    const parsed = parseArgs({ args: rest, options: { ...COMMON, ...command.options }, allowPositionals: true, strict: true });
    const args: Parsed = { values: parsed.values, positionals: parsed.positionals };
    json = args.values.json === true;
    if (args.values.help === true) {
      process.stdout.write(`${command.usage}\n${COMMON_HELP}\n`);
      return 0;
    }
    const { result, text } = await command.run(args);
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${text}\n`);
    return 0;
  } catch (error) {
    const code = error instanceof RepoError ? error.code : errnoOf(error)?.startsWith('ERR_PARSE_ARGS') === true ? 'USAGE' : 'ERROR';
    const message = messageOf(error);
    if (json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
    else process.stderr.write(`tufup-repo ${name}: ${message} [${code}]\n${code === 'USAGE' ? `\n${command.usage}\n` : ''}`);
    return code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

