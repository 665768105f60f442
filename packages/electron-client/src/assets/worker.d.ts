// Types of the generated dist/assets/worker.mjs (scripts/build.ts), imported as `#worker-source`.
import type { EmbeddedFile } from './embedded.js';

/** The update worker bundled into one CommonJS file (dist/worker.cjs). */
export declare const WORKER: EmbeddedFile;
