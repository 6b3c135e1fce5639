import '../support/aws-calls/checked.ts';
import {
  AdminDisableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CognitoDirectory } from '../../functions/adapters/aws/cognito-directory.ts';
import { cachedDirectory } from '../../functions/core/cached-directory.ts';

const cognitoMock = mockClient(CognitoIdentityProviderClient);
const POOL = 'eu-west-1_abc';

describe('cachedDirectory (the portal’s per-request user read)', () => {
  let now = 1_000_000;
  const directory = () =>
    cachedDirectory(
      new CognitoDirectory({ cognito: new CognitoIdentityProviderClient({}), userPoolId: POOL }),
      {
        ttlMs: 30_000,
        now: () => now,
      },
    );

  beforeEach(() => {
    cognitoMock.reset();
    cognitoMock.on(AdminGetUserCommand).resolves({ Username: 'alice', Enabled: true, UserAttributes: [] });
    cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [{ GroupName: 'cs101' }] });
    cognitoMock.on(AdminDisableUserCommand).resolves({});
  });

  const calls = () =>
    cognitoMock.commandCalls(AdminGetUserCommand).length +
    cognitoMock.commandCalls(AdminListGroupsForUserCommand).length;

  it('reads a user from Cognito once for many portal requests within the cache time', async () => {
    const cached = directory();
    // A student's progress page polls every second for 20 s.
    for (let i = 0; i < 20; i++, now += 1_000) expect((await cached.get('alice'))?.groups).toEqual(['cs101']);
    expect(calls()).toBe(2);
    now += 30_000;
    await cached.get('alice');
    expect(calls()).toBe(4);
  });

  it('shares one read between concurrent requests, and keeps users apart', async () => {
    const cached = directory();
    await Promise.all([cached.get('alice'), cached.get('Alice'), cached.get('alice')]);
    expect(calls()).toBe(2);
    await cached.get('bob');
    expect(calls()).toBe(4);
  });

  it('forgets a user it disables at once', async () => {
    const cached = directory();
    await cached.get('alice');
    await cached.disable('alice');
    await cached.get('alice');
    expect(cognitoMock.commandCalls(AdminGetUserCommand).length).toBeGreaterThanOrEqual(2);
  });

  it('does not keep a failed read', async () => {
    const cached = directory();
    cognitoMock
      .on(AdminGetUserCommand)
      .rejectsOnce(Object.assign(new Error('boom'), { name: 'InternalErrorException' }))
      .resolves({ Username: 'alice', Enabled: true, UserAttributes: [] });
    await expect(cached.get('alice')).rejects.toThrow();
    expect((await cached.get('alice'))?.name).toBe('alice');
  });
});
