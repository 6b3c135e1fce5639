/**
 * How `npm test` counts: each runner's report becomes passed, failed and skipped totals.
 * A runner that exits non-zero must count as failed even when its report shows no failing
 * test (a global setup that timed out runs no test at all), otherwise `0 failed` would lie.
 */

export interface Totals {
  passed: number;
  failed: number;
  skipped: number;
}

export const noTotals = (): Totals => ({ passed: 0, failed: 0, skipped: 0 });

export function addTotals(a: Totals, b: Totals): Totals {
  return { passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped };
}

/** The fields of vitest's JSON reporter output that the totals use. */
export interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults: Array<{ status: string; message?: string }>;
}

/** vitest's totals; `report` is undefined when vitest wrote none. */
export function vitestTotals(report: VitestReport | undefined, exitStatus: number): Totals {
  if (!report) return { passed: 0, failed: 1, skipped: 0 };
  // A file that fails to load has no failed tests but must still fail the run.
  const brokenFiles = report.testResults.filter((file) => file.status === 'failed' && file.message).length;
  let failed = report.numFailedTests + brokenFiles;
  if (exitStatus !== 0 && failed === 0) failed = 1;
  return {
    passed: report.numPassedTests,
    failed,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}

/** pytest's totals from its JUnit XML; `xml` is undefined when pytest wrote none. */
export function pytestTotals(xml: string | undefined, exitStatus: number): Totals {
  if (xml === undefined) return { passed: 0, failed: 1, skipped: 0 };
  const suite = /<testsuite\b[^>]*>/.exec(xml)?.[0] ?? '';
  const count = (name: string) => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(suite)?.[1] ?? 0);
  const skipped = count('skipped');
  let failed = count('failures') + count('errors');
  // pytest exits 5 when it collected nothing: that is a failure too (the tests went missing).
  if (exitStatus !== 0 && failed === 0) failed = 1;
  return { passed: count('tests') - count('failures') - count('errors') - skipped, failed, skipped };
}

/** The closing line of `npm test`; `.ci/run` keeps its first two fields. */
export function totalsLine(totals: Totals): string {
  return `${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`;
}
