import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FAKE_CONFIG_ATTRIBUTES, startConfigStub } from '../support/deployment-config.ts';
import { FAKE_LAMBDA_ENV } from '../support/fake-lambda.ts';

/**
 * The AWS wiring's first event (functions/wiring/aws.ts): it reads the deployment's
 * configuration item once, against a DynamoDB stub on loopback that answers only that
 * GetItem. A Lambda instance that started before the item existed must not keep the
 * failure: the next event reads again.
 */
describe('the AWS wiring and the configuration item', () => {
  let stub: Awaited<ReturnType<typeof startConfigStub>>;
  let item: Record<string, string> | undefined;

  beforeEach(async () => {
    item = undefined;
    stub = await startConfigStub(() => item);
    for (const [name, value] of Object.entries(FAKE_LAMBDA_ENV)) vi.stubEnv(name, value);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', stub.endpoint);
    vi.resetModules();
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await stub.stop();
  });

  it('reads the item once per instance, and tries again on the next event after a failure', async () => {
    const { awsCoreDeps, awsApiDeps } = await import('../../functions/wiring/aws.ts');
    await expect(awsCoreDeps()).rejects.toThrow(/CONFIG#deployment.*is missing.*npx sst deploy/s);
    expect(stub.gets()).toBe(1);
    item = { ...FAKE_CONFIG_ATTRIBUTES };
    const core = await awsCoreDeps();
    expect(core.settings.profiles.map((profile) => profile.name)).toEqual(['small']);
    await awsApiDeps();
    await awsCoreDeps();
    expect(stub.gets()).toBe(2);
  });
});
