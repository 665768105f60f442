import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from '../core/index.js';

/** The IPC channel electron-log's main logger listens on once it is set up in a process. */
export const ELECTRON_LOG_CHANNEL = '__ELECTRON_LOG__';

function isLogger(value: unknown): value is Logger {
  const l = value as Partial<Record<keyof Logger, unknown>> | null;
  return typeof l === 'object' && l !== null && ['debug', 'info', 'warn', 'error'].every((level) => typeof l[level as keyof Logger] === 'function');
}

/**
 * electron-log's main logger, when the app has electron-log installed (an optional peer dependency), or
 * undefined. Nothing names electron-log statically, so a bundler never pulls it in, and nothing loads it
 * at import: only the updater's default logger asks, when the app gave none. It is resolved from the
 * app's own package (`appPath`), as the app's `require('electron-log/main')` would be, and the app's
 * copy is reused when it is already loaded. When another copy is already set up (`otherCopyActive`: the
 * app bundled electron-log into its main), loading a second one would register its IPC handlers twice,
 * so the updater stays silent instead: pass that logger as `logger`.
 */
export function loadElectronLog(appPath: string, otherCopyActive: () => boolean): Logger | undefined {
  let require: NodeJS.Require;
  let resolved: string;
  try {
    require = createRequire(join(appPath, 'package.json'));
    resolved = require.resolve('electron-log/main');
  } catch {
    return undefined;
  }
  if (require.cache[resolved] === undefined && otherCopyActive()) return undefined;
  try {
    const loaded: unknown = require(resolved);
    return isLogger(loaded) ? loaded : undefined;
  } catch {
    return undefined;
  }
}
