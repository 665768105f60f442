/**
 * `@tufup/testkit`: the test fixtures every suite imports (a private workspace package, as tuf-js's
 * repo-mock). This entry needs nothing but Node and vitest; `@tufup/testkit/repo` adds a repository made
 * with @tufup/repo-tools and clients of @tufup/electron-client.
 */
export { rejectionOf, thrownBy, codeOf, type ErrorClass } from './errors.js';
export { readTree, treeHash, listFiles, sha256, type Tree, type TreeEntry } from './tree.js';
export { noise, writeBundle, runApp, type BundleShape } from './bundle.js';
export { LoopbackServer, type Rule, type Misbehaviour, type SeenRequest } from './server.js';
export { craftTar, type CraftEntry, type CraftType } from './crafted-tar.js';
export { mountSmallDisk, useSmallDisk, type SmallDisk } from './small-disk.js';
export { openFdsOnceSettled } from './fds.js';
export { waitFor } from './wait.js';
export { put, linkFrameworkVersions } from './layout.js';
export { seededRandom, seedFrom } from './random.js';
