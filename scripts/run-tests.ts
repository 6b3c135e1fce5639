/**
 * `npm test`: type-checks, runs every vitest project and the lab's Python tests, and
 * ends with the total over both runners alone on a line: `N passed, N failed, N skipped`.
 * Extra arguments go to vitest (e.g. `npm test -- --project unit`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import {
  addTotals,
  noTotals,
  pytestTotals,
  totalsLine,
  type VitestReport,
  vitestTotals,
} from './test-totals.ts';

const artifacts = 'test-artifacts';
mkdirSync(artifacts, { recursive: true });
const args = process.argv.slice(2);
const onlyVitest = args.length > 0;

function run(command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): number {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env });
  return result.status ?? 1;
}

let totals = noTotals();

/** A whole-tree check counts as one test: passed or failed. */
function check(title: string, command: string, commandArgs: string[]): void {
  console.log(`\n== ${title}`);
  if (run(command, commandArgs) === 0) {
    totals.passed += 1;
  } else {
    console.log(`${title}: failed`);
    totals.failed += 1;
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
const report = existsSync(vitestReport)
  ? (JSON.parse(readFileSync(vitestReport, 'utf8')) as VitestReport)
  : undefined;
if (vitestStatus !== 0 && report && report.numFailedTests === 0) {
  console.log(
    `vitest exited with status ${vitestStatus} although no test failed (a global setup or a file did not run)`,
  );
}
totals = addTotals(totals, vitestTotals(report, vitestStatus));

if (!onlyVitest) {
  console.log('\n== pytest (containers/lab)');
  const junit = `${artifacts}/pytest-results.xml`;
  rmSync(junit, { force: true });
  const pytestStatus = run('/usr/bin/python3', [
    '-m',
    'pytest',
    '-q',
    'containers/lab/tests',
    `--junitxml=${junit}`,
    '-p',
    'no:cacheprovider',
  ]);
  totals = addTotals(
    totals,
    pytestTotals(existsSync(junit) ? readFileSync(junit, 'utf8') : undefined, pytestStatus),
  );
}

console.log(`\n${totalsLine(totals)}`);
process.exit(totals.failed > 0 ? 1 : 0);
