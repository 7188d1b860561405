// Reads vitest's JSON results and fails unless the whole suite ran and passed: every test file
// the suite holds reported, every test in them passed, none skipped or todo. Prints the plain
// closing line "N passed, N failed, N skipped". Used by .ci/run after `npm test`.
// usage: node scripts/check-test-results.mjs <results.json> <files.json from `vitest list --filesOnly --json`>
import { readFileSync } from 'node:fs';

const [resultsPath, filesPath] = process.argv.slice(2);
const problems = [];
let r;
try {
  r = JSON.parse(readFileSync(resultsPath, 'utf8'));
} catch (err) {
  console.log('0 passed, 0 failed');
  console.error(`check-test-results: no results in ${resultsPath}: ${err.message}`);
  process.exit(1);
}
const skipped = r.numPendingTests + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);

const held = JSON.parse(readFileSync(filesPath, 'utf8')).map((f) => f.file).sort();
const reported = r.testResults.map((t) => t.name).sort();
const missing = held.filter((f) => !reported.includes(f));
if (missing.length) problems.push(`test files that did not report: ${missing.join(', ')}`);
if (held.length === 0) problems.push('the suite holds no test file');
if (r.numTotalTests === 0) problems.push('no test ran');
if (skipped > 0) {
  const names = r.testResults.flatMap((t) => t.assertionResults.filter((a) => a.status !== 'passed' && a.status !== 'failed').map((a) => `${a.fullName} (${a.status})`));
  problems.push(`${skipped} test(s) skipped or todo: ${names.join('; ')}`);
}
if (r.numPassedTests !== r.numTotalTests) problems.push(`${r.numPassedTests} of ${r.numTotalTests} tests passed`);
if (r.numFailedTestSuites > 0) problems.push(`${r.numFailedTestSuites} test file(s) failed to run`);
if (!r.success) problems.push('vitest reported failure');
for (const p of problems) console.error(`check-test-results: ${p}`);
process.exit(problems.length ? 1 : 0);
