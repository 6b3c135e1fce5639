/**
 * `npm test`: type-checks, runs every vitest project and the lab's Python tests, and
 * ends with the total over both runners alone on a line: `N passed, N failed`.
 * Extra arguments go to vitest (e.g. `npm test -- --project unit`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';

const artifacts = 'test-artifacts';
mkdirSync(artifacts, { recursive: true });
const args = process.argv.slice(2);
const onlyVitest = args.length > 0;

function run(command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env });
  return result.status ?? 1;
}

let passed = 0;
let failed = 0;

/** A whole-tree check counts as one test: passed or failed. */
function check(title: string, command: string, commandArgs: string[]): void {
  console.log(`\n== ${title}`);
  if (run(command, commandArgs) === 0) {
    passed += 1;
  } else {
    console.log(`${title}: failed`);
    failed += 1;
  }
}

if (!onlyVitest) {
  check('typecheck (tsc --noEmit)', 'npx', ['tsc', '--noEmit', '-p', 'tsconfig.json']);
  check('lint and format (biome check)', 'npx', ['biome', 'check', '.']);
}

console.log('\n== vitest');
const vitestReport = `${artifacts}/vitest-results.json`;
rmSync(vitestReport, { force: true });
const vitestStatus = run('npx', ['vitest', 'run', ...args]);
if (existsSync(vitestReport)) {
  const report = JSON.parse(readFileSync(vitestReport, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numTotalTestSuites: number;
    testResults: Array<{ status: string; message?: string }>;
  };
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // A file that fails to load has no failed tests but must still fail the run.
  const brokenFiles = report.testResults.filter((file) => file.status === 'failed' && file.message).length;
  failed += brokenFiles;
} else if (vitestStatus !== 0) {
  failed += 1;
}

if (!onlyVitest) {
  console.log('\n== pytest (containers/lab)');
  const junit = `${artifacts}/pytest-results.xml`;
  rmSync(junit, { force: true });
  run('/usr/bin/python3', [
    '-m',
    'pytest',
    '-q',
    'containers/lab/tests',
    `--junitxml=${junit}`,
    '-p',
    'no:cacheprovider',
  ]);
  if (existsSync(junit)) {
    const xml = readFileSync(junit, 'utf8');
    const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
    const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
    const bad = count('failures') + count('errors');
    passed += count('tests') - bad - count('skipped');
    failed += bad;
  } else {
    failed += 1;
  }
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
