/**
 * A stand-in for `electron-log/main` (which needs a running Electron): the updater's default logger,
 * writing to the stand-in's report so a failing test shows what the updater said.
 */
import { appendFileSync } from 'node:fs';

function write(level: string, args: unknown[]): void {
  const file = process.env.STANDIN_REPORT;
  const message = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  if (file !== undefined) appendFileSync(file, `${JSON.stringify({ pid: process.pid, type: 'log', level, message })}\n`);
}

const log = {
  debug: (...args: unknown[]): void => write('debug', args),
  info: (...args: unknown[]): void => write('info', args),
  warn: (...args: unknown[]): void => write('warn', args),
  error: (...args: unknown[]): void => write('error', args),
  initialize: (): void => undefined,
};

export default log;
