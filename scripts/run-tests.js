#!/usr/bin/env node
/**
 * Runs the whole suite: lint (ESLint, then Prettier's check), type-check (src, tests, benchmarks),
 * build, then Jest. Prints a last line `N passed, N failed` and exits non-zero on any failure
 * (including a lint error, a type error, a suite that could not run, or no test at all). Extra
 * arguments go to Jest (e.g. a test path pattern).
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  return result.status === null ? 1 : result.status;
}

function finish(passed, failed) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

if (run(bin('eslint'), ['.']) !== 0) {
  console.error('lint failed: ESLint found the problems above (`npx eslint . --fix` fixes some)');
  finish(0, 1);
}
if (run(bin('prettier'), ['--check', '--log-level', 'warn', '.']) !== 0) {
  console.error('lint failed: the files above are not formatted (`npx prettier --write .` formats them)');
  finish(0, 1);
}
if (run(bin('tsc'), ['-p', 'tsconfig.test.json']) !== 0) {
  console.error('type check failed');
  finish(0, 1);
}
// `npm run build`, not tsc alone: the build also makes dist/cli.js executable (the package's bin).
if (run('npm', ['run', '--silent', 'build']) !== 0) {
  console.error('build failed');
  finish(0, 1);
}

const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jest-report-')), 'report.json');
// --forceExit: a handle leaked by a test must never hang CI until its time limit (find leaks by
// hand with --detectOpenHandles).
const status = run(bin('jest'), ['--json', `--outputFile=${report}`, '--forceExit', ...process.argv.slice(2)]);
let results;
try {
  results = JSON.parse(fs.readFileSync(report, 'utf8'));
} catch (error) {
  console.error(`jest wrote no report (exit ${status}): ${error.message}`);
  finish(0, 1);
}
fs.rmSync(path.dirname(report), { recursive: true, force: true });

const suiteFailures = results.numFailedTestSuites + (results.numRuntimeErrorTestSuites || 0);
const failed = results.numFailedTests + (results.numFailedTests === 0 ? suiteFailures : 0);
const skipped = results.numPendingTests + results.numTodoTests;
if (skipped > 0) console.error(`${skipped} tests were skipped or todo: that is a failure here`);
finish(results.numPassedTests, failed + skipped + (status !== 0 && failed === 0 ? 1 : 0));
