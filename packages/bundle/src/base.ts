/**
 * `@tufup/bundle/base`: everything but the patch engine and the archive streams. The engine's zstd
 * imports from node:zlib do not even link on a Node older than 24.6 (22.19); the update client's main
 * process imports only this entry, so that on an older Electron it can still load and say what it needs
 * (UNSUPPORTED_RUNTIME) instead of failing with a SyntaxError at import. Same modules as the main entry,
 * so classes (`BundleError`, `CodedError`) are the same whichever entry loaded them.
 */
export * from './error.js';
export * from './version.js';
export * from './naming.js';
export * from './hash.js';
export * from './tar.js';
export * from './metadata.js';
export * from './trust.js';
export * from './lock.js';
