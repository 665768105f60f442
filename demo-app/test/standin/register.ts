/**
 * `node --import <this file> main.js`: runs an Electron main script under plain Node with `electron`
 * replaced by the stand-in next to this file. The hooks apply to `import` and `require` alike, in every
 * module, and NODE_OPTIONS carries them into relaunched processes.
 */
import { registerHooks } from 'node:module';

const STANDINS = new Map([['electron', new URL('./electron.ts', import.meta.url).href]]);

registerHooks({
  resolve(specifier, context, nextResolve) {
    const url = STANDINS.get(specifier);
    return url === undefined ? nextResolve(specifier, context) : { url, shortCircuit: true };
  },
});
