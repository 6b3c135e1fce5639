import { describe, expect, it } from 'vitest';
import { pytestTotals, totalsLine, type VitestReport, vitestTotals } from '../../scripts/test-totals.ts';

const report = (over: Partial<VitestReport> = {}): VitestReport => ({
  numPassedTests: 0,
  numFailedTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
  testResults: [],
  ...over,
});

describe('npm test totals', () => {
  describe('vitest', () => {
    it('counts passed, failed and skipped tests from the JSON report', () => {
      expect(vitestTotals(report({ numPassedTests: 7, numFailedTests: 2, numPendingTests: 3 }), 1)).toEqual({
        passed: 7,
        failed: 2,
        skipped: 3,
      });
    });

    it('counts todo tests as skipped', () => {
      expect(vitestTotals(report({ numPassedTests: 1, numTodoTests: 2 }), 0).skipped).toBe(2);
    });

    it('fails the run when vitest exits non-zero but its report shows no failing test (a global setup timed out)', () => {
      expect(vitestTotals(report(), 1)).toEqual({ passed: 0, failed: 1, skipped: 0 });
      expect(vitestTotals(report({ numPassedTests: 40 }), 1)).toEqual({ passed: 40, failed: 1, skipped: 0 });
    });

    it('does not add a failure when the failing tests already explain the exit status', () => {
      expect(vitestTotals(report({ numFailedTests: 1 }), 1).failed).toBe(1);
    });

    it('counts a file that failed to load as a failure', () => {
      const loaded = report({
        numPassedTests: 3,
        testResults: [{ status: 'failed', message: 'Cannot find module' }, { status: 'passed' }],
      });
      expect(vitestTotals(loaded, 1)).toEqual({ passed: 3, failed: 1, skipped: 0 });
    });

    it('fails the run when vitest wrote no report at all', () => {
      expect(vitestTotals(undefined, 0).failed).toBe(1);
      expect(vitestTotals(undefined, 1).failed).toBe(1);
    });

    it('passes a clean run', () => {
      expect(vitestTotals(report({ numPassedTests: 5 }), 0)).toEqual({ passed: 5, failed: 0, skipped: 0 });
    });
  });

  describe('pytest', () => {
    const junit = (attrs: string) =>
      `<?xml version="1.0"?><testsuites><testsuite name="pytest" ${attrs} time="1.0"></testsuite></testsuites>`;

    it('counts passed, failed (failures and errors) and skipped tests from the JUnit XML', () => {
      expect(pytestTotals(junit('errors="1" failures="2" skipped="3" tests="10"'), 1)).toEqual({
        passed: 4,
        failed: 3,
        skipped: 3,
      });
    });

    it('fails the run when pytest exits non-zero with no failing test (nothing collected)', () => {
      expect(pytestTotals(junit('errors="0" failures="0" skipped="0" tests="0"'), 5)).toEqual({
        passed: 0,
        failed: 1,
        skipped: 0,
      });
    });

    it('fails the run when pytest wrote no report', () => {
      expect(pytestTotals(undefined, 2).failed).toBe(1);
    });
  });

  it('closes with passed, failed and skipped on one line', () => {
    expect(totalsLine({ passed: 12, failed: 0, skipped: 4 })).toBe('12 passed, 0 failed, 4 skipped');
  });
});
