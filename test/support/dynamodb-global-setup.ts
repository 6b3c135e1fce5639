import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../functions/local/dynamodb-local.ts';

// Spelled out rather than imported from ./dynamodb.ts: that module imports vitest's
// test API, which must not load in the main process where globalSetup runs.
const TEST_DYNAMODB_ENDPOINT_VARIABLE = 'HUBLESS_TEST_DYNAMODB_ENDPOINT';

/**
 * Vitest globalSetup: one in-memory DynamoDB Local for the whole run, instead of one
 * Java process per test file (each takes a few seconds and ~200 MB). Workers learn the
 * endpoint through `provide`/`inject` (globalSetup runs in the main process); the
 * environment variable is set too, for tools run from tests. An endpoint already set
 * in the environment is used as it is and not stopped.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const existing = process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  if (existing) {
    project.provide('hublessTestDynamoEndpoint', existing);
    return undefined;
  }
  const local = await startDynamoDbLocal();
  project.provide('hublessTestDynamoEndpoint', local.endpoint);
  process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE] = local.endpoint;
  return async () => {
    delete process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
    await local.stop();
  };
}
