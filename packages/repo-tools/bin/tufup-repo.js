#!/usr/bin/env node
// The `tufup-repo` program, written by hand and committed (not built), for two reasons:
// - An old Node must get a sentence and exit code 2, not a SyntaxError about `createZstdDecompress`
//   from a module it cannot link. So this file uses no import statement, no top-level await and
//   nothing newer than ES2015 (Node 10 and later parse it, as CommonJS or as ESM), and checks the
//   version before it loads the CLI.
// - npm links a workspace's bin at install time, before anything is built: the file must exist then.
//
// The floor is every package's "engines" (test/bin.test.ts checks they agree): patches are zstd with
// the old tar as dictionary, and the `dictionary` option of node:zlib's zstd came in Node 24.6.0 and
// 22.19.0 (Node 23 never had it).
var version = process.versions.node;
var parts = version.split('.');
var major = Number(parts[0]);
var minor = Number(parts[1]);
var supported = major > 24 || (major === 24 && minor >= 6) || (major === 22 && minor >= 19);

if (!supported) {
  process.stderr.write(
    'tufup-repo needs Node >= 24.6.0 or 22.19.0 (this is Node ' + version + ')\n' +
      'Its patches use zstd dictionaries in node:zlib, which came in Node 24.6.0 and 22.19.0 (Node 23 has none).\n',
  );
  process.exitCode = 2;
} else {
  import('../dist/cli/index.js').then(
    function (cli) {
      return cli.main(process.argv.slice(2)).then(function (code) {
        process.exitCode = code;
      });
    },
    function (error) {
      // Only in a clone of the sources: the published package always has dist/.
      if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).indexOf('cli/index.js') !== -1) {
        process.stderr.write('tufup-repo is not built yet: run "npm run build" in the repository first\n');
      } else {
        process.stderr.write('tufup-repo could not start: ' + (error && error.stack ? error.stack : String(error)) + '\n');
      }
      process.exitCode = 1;
    },
  );
}
