import {
  AccessPointAlreadyExists,
  type AccessPointDescription,
  AccessPointLimitExceeded,
  CreateAccessPointCommand,
  DescribeAccessPointsCommand,
  EFSClient,
  type LifeCycleState,
  ThrottlingException,
} from '@aws-sdk/client-efs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientTokenFor, EfsHomes } from '../../functions/adapters/aws/efs-homes.ts';
import { CapacityError, DependencyTimeoutError, ValidationError } from '../../functions/core/errors.ts';

const FS = 'fs-0123456789abcdef0';
const efsMock = mockClient(EFSClient);
const noSleep = async () => {};

function homes(options: Partial<ConstructorParameters<typeof EfsHomes>[0]> = {}) {
  return new EfsHomes({
    efs: new EFSClient({}),
    fileSystemId: FS,
    sleep: noSleep,
    retry: { sleep: noSleep },
    ...options,
  });
}

function accessPoint(id: string, user: string, state: LifeCycleState = 'available'): AccessPointDescription {
  return {
    AccessPointId: id,
    FileSystemId: FS,
    LifeCycleState: state,
    Tags: [{ Key: 'hubless:user', Value: user }],
  };
}

describe('EfsHomes', () => {
  beforeEach(() => efsMock.reset());

  describe('ensure', () => {
    it('creates an access point rooted at /home/<user> that forces uid 1000 and gid 100', async () => {
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock
        .on(CreateAccessPointCommand)
        .resolves({ AccessPointId: 'fsap-alice', LifeCycleState: 'creating' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-alice' })
        .resolves({ AccessPoints: [accessPoint('fsap-alice', 'alice')] });

      expect(await homes().ensure('alice')).toBe('fsap-alice');

      const creates = efsMock.commandCalls(CreateAccessPointCommand);
      expect(creates).toHaveLength(1);
      expect(creates[0]?.args[0].input).toEqual({
        ClientToken: clientTokenFor(FS, 'alice'),
        FileSystemId: FS,
        PosixUser: { Uid: 1000, Gid: 100 },
        RootDirectory: {
          Path: '/home/alice',
          CreationInfo: { OwnerUid: 1000, OwnerGid: 100, Permissions: '0750' },
        },
        Tags: [
          { Key: 'Name', Value: 'hubless-home-alice' },
          { Key: 'hubless:user', Value: 'alice' },
        ],
      });
    });

    it('returns the existing access point of a returning user without creating one', async () => {
      efsMock
        .on(DescribeAccessPointsCommand, { FileSystemId: FS, NextToken: undefined })
        .resolves({ AccessPoints: [accessPoint('fsap-bob', 'bob')], NextToken: 'page-2' });
      efsMock
        .on(DescribeAccessPointsCommand, { FileSystemId: FS, NextToken: 'page-2' })
        .resolves({ AccessPoints: [accessPoint('fsap-alice', 'alice')] });

      expect(await homes().ensure('Alice')).toBe('fsap-alice');
      expect(efsMock.commandCalls(CreateAccessPointCommand)).toHaveLength(0);
      expect(efsMock.commandCalls(DescribeAccessPointsCommand)).toHaveLength(2);
    });

    it('derives the client token from file system and user, so concurrent first starts make one access point', () => {
      expect(clientTokenFor(FS, 'alice')).toBe(clientTokenFor(FS, 'alice'));
      expect(clientTokenFor(FS, 'alice')).not.toBe(clientTokenFor(FS, 'bob'));
      expect(clientTokenFor(FS, 'alice').length).toBeLessThanOrEqual(64);
    });

    it('uses the access point a lost race created (AccessPointAlreadyExists)', async () => {
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).rejects(
        new AccessPointAlreadyExists({
          message: 'exists',
          $metadata: {},
          ErrorCode: 'AccessPointAlreadyExists',
          AccessPointId: 'fsap-race',
        }),
      );
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-race' })
        .resolves({ AccessPoints: [accessPoint('fsap-race', 'alice')] });
      expect(await homes().ensure('alice')).toBe('fsap-race');
    });

    it('waits until a new access point is available', async () => {
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).resolves({ AccessPointId: 'fsap-new' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-new' })
        .resolvesOnce({ AccessPoints: [accessPoint('fsap-new', 'carol', 'creating')] })
        .resolvesOnce({ AccessPoints: [accessPoint('fsap-new', 'carol', 'creating')] })
        .resolves({ AccessPoints: [accessPoint('fsap-new', 'carol')] });
      expect(await homes().ensure('carol')).toBe('fsap-new');
      expect(efsMock.commandCalls(DescribeAccessPointsCommand, { AccessPointId: 'fsap-new' })).toHaveLength(
        3,
      );
    });

    it('stops waiting after its time limit with a timeout that names the access point', async () => {
      let now = 0;
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).resolves({ AccessPointId: 'fsap-slow' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-slow' })
        .resolves({ AccessPoints: [accessPoint('fsap-slow', 'dan', 'creating')] });
      const slow = homes({
        waitTimeoutMs: 5_000,
        pollIntervalMs: 1_000,
        now: () => now,
        sleep: async (ms) => {
          now += ms;
        },
      });
      const error = await slow.ensure('dan').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyTimeoutError);
      expect((error as Error).message).toMatch(/fsap-slow is still creating/);
    });

    it('retries a throttled call, then succeeds', async () => {
      efsMock
        .on(DescribeAccessPointsCommand, { FileSystemId: FS })
        .rejectsOnce(new ThrottlingException({ message: 'slow down', $metadata: {} }))
        .resolves({ AccessPoints: [accessPoint('fsap-eve', 'eve')] });
      expect(await homes().ensure('eve')).toBe('fsap-eve');
    });

    it('reports a full file system as a capacity error', async () => {
      efsMock.on(DescribeAccessPointsCommand).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).rejects(
        new AccessPointLimitExceeded({
          message: 'limit',
          $metadata: {},
          ErrorCode: 'AccessPointLimitExceeded',
        }),
      );
      const error = await homes()
        .ensure('frank')
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CapacityError);
      expect((error as Error).message).toMatch(/10,000/);
    });

    it('refuses a name that cannot be a path segment before calling AWS', async () => {
      await expect(homes().ensure('../etc')).rejects.toBeInstanceOf(ValidationError);
      expect(efsMock.calls()).toHaveLength(0);
    });
  });
});
