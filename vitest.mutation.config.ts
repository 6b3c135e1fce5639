import { defineConfig } from 'vitest/config';

// The tests StrykerJS runs against each mutant (`npm run mutation`): scripts/mutation.ts
// passes the test files of the modules it mutates (scripts/mutation-modules.ts) in
// HUBLESS_MUTATION_TESTS. Integration and e2e tests start real servers per file, far too
// slow to repeat per mutant; contract tests reach the one DynamoDB Local the script starts.
const tests = (process.env.HUBLESS_MUTATION_TESTS ?? 'test/unit/**/*.test.ts').split(',');
const needsDynamo = tests.some((file) => file.startsWith('test/contract/'));

export default defineConfig({
  test: {
    include: tests,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    ...(needsDynamo ? { globalSetup: ['test/support/dynamodb-global-setup.ts'] } : {}),
  },
});
