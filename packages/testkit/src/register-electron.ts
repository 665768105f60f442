/**
 * `node --import @tufup/testkit/dist/register-electron.js main.js`: runs an Electron main file under plain Node with `electron`
 * replaced by the stand-in next to this file. The hook applies to `import` and `require` alike, in every
 * module, and NODE_OPTIONS carries it into relaunched processes.
 */
import { registerHooks } from 'node:module';

// The compiled stand-in next to this file (dist/), so Node runs JavaScript.
const STANDIN = new URL('./electron-module.js', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    return specifier === 'electron' ? { url: STANDIN, shortCircuit: true } : nextResolve(specifier, context);
  },
});
