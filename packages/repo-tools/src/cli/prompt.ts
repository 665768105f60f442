import { RepoError } from '../error.js';

/** Reads one line from stdin; on a terminal, asks for it without echo (twice when `confirm`). */
export async function readPassphrase(confirm: boolean): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = '';
    for await (const chunk of stdin) {
      text += String(chunk);
      if (text.includes('\n')) break;
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  const first = await ask('Passphrase: ');
  if (confirm && (await ask('Passphrase again: ')) !== first) throw new RepoError('BAD_PASSPHRASE', 'the two passphrases differ');
  return first;
}

/** One line typed on the terminal in raw mode, so it is not echoed; Ctrl-C cancels. */
function ask(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolvePromise, reject) => {
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          done();
          resolvePromise(value);
          return;
        }
        if (char === '\u0003') {
          done();
          reject(new RepoError('USAGE', 'cancelled'));
          return;
        }
        value = char === '\u007f' || char === '\b' ? value.slice(0, -1) : value + char;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}
