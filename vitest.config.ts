import { defineConfig } from 'vitest/config';

// One DynamoDB Local for the whole run: the first project's global setup starts it and
// publishes its endpoint; the other projects' setups find it and reuse it.
const dynamo = 'test/support/dynamodb-global-setup.ts';

// One runner, six kinds of test. Unit tests never touch the network; contract tests
// run each port's suite against every adapter, including the local ones on loopback;
// integration and e2e start real local parts (DynamoDB Local, Jupyter, Chromium).
export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest-results.json' },
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      {
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          globalSetup: [dynamo],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: [dynamo],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // Checks that come from AWS itself: IAM per function and call, service models, limits.
        test: {
          name: 'aws',
          include: ['test/aws-checks/**/*.test.ts'],
          globalSetup: [dynamo],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: [dynamo],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
