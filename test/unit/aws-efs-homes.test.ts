import '../support/aws-calls/checked.ts';
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
        .resolves({ AccessPointId: 'fsap-0a11ce0000000000a', LifeCycleState: 'creating' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0a11ce0000000000a' })
        .resolves({ AccessPoints: [accessPoint('fsap-0a11ce0000000000a', 'alice')] });

      expect(await homes().ensure('alice')).toBe('fsap-0a11ce0000000000a');

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
        .resolves({ AccessPoints: [accessPoint('fsap-0b0b000000000000b', 'bob')], NextToken: 'page-2' });
      efsMock
        .on(DescribeAccessPointsCommand, { FileSystemId: FS, NextToken: 'page-2' })
        .resolves({ AccessPoints: [accessPoint('fsap-0a11ce0000000000a', 'alice')] });

      expect(await homes().ensure('Alice')).toBe('fsap-0a11ce0000000000a');
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
          AccessPointId: 'fsap-0ace000000000000c',
        }),
      );
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0ace000000000000c' })
        .resolves({ AccessPoints: [accessPoint('fsap-0ace000000000000c', 'alice')] });
      expect(await homes().ensure('alice')).toBe('fsap-0ace000000000000c');
    });

    it('waits until a new access point is available', async () => {
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).resolves({ AccessPointId: 'fsap-0e0e000000000000d' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0e0e000000000000d' })
        .resolvesOnce({ AccessPoints: [accessPoint('fsap-0e0e000000000000d', 'carol', 'creating')] })
        .resolvesOnce({ AccessPoints: [accessPoint('fsap-0e0e000000000000d', 'carol', 'creating')] })
        .resolves({ AccessPoints: [accessPoint('fsap-0e0e000000000000d', 'carol')] });
      expect(await homes().ensure('carol')).toBe('fsap-0e0e000000000000d');
      expect(
        efsMock.commandCalls(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0e0e000000000000d' }),
      ).toHaveLength(3);
    });

    it('by default gives up well inside the Lambda’s 29 s timeout, leaving time to start the task', async () => {
      let now = 0;
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).resolves({ AccessPointId: 'fsap-05105000000000000' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-05105000000000000' })
        .resolves({ AccessPoints: [accessPoint('fsap-05105000000000000', 'dan', 'creating')] });
      const slow = homes({
        now: () => now,
        sleep: async (ms) => {
          now += ms;
        },
      });
      expect(await slow.ensure('dan').catch((e: unknown) => e)).toBeInstanceOf(DependencyTimeoutError);
      // RunTask, the task definition and the first status still need a few seconds of the 29.
      expect(now).toBeLessThanOrEqual(20_000);
    });

    it('stops waiting after its time limit with a timeout that names the access point', async () => {
      let now = 0;
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).resolves({ AccessPoints: [] });
      efsMock.on(CreateAccessPointCommand).resolves({ AccessPointId: 'fsap-05105000000000000' });
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-05105000000000000' })
        .resolves({ AccessPoints: [accessPoint('fsap-05105000000000000', 'dan', 'creating')] });
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
      expect((error as Error).message).toMatch(/fsap-05105000000000000 is still creating/);
    });

    it('checks the access point an earlier session recorded with one call, without paging through all', async () => {
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0b0b000000000000b' })
        .resolves({ AccessPoints: [accessPoint('fsap-0b0b000000000000b', 'bob')] });
      expect(await homes().ensure('bob', 'fsap-0b0b000000000000b')).toBe('fsap-0b0b000000000000b');
      expect(efsMock.commandCalls(DescribeAccessPointsCommand)).toHaveLength(1);
      expect(efsMock.commandCalls(DescribeAccessPointsCommand, { FileSystemId: FS })).toHaveLength(0);
    });

    it('searches as before when the recorded access point is gone or is not the user’s', async () => {
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0dead00000000000d' })
        .rejects(Object.assign(new Error('gone'), { name: 'AccessPointNotFound' }));
      efsMock
        .on(DescribeAccessPointsCommand, { AccessPointId: 'fsap-0a11ce0000000000a' })
        .resolves({ AccessPoints: [accessPoint('fsap-0a11ce0000000000a', 'alice')] });
      efsMock
        .on(DescribeAccessPointsCommand, { FileSystemId: FS })
        .resolves({ AccessPoints: [accessPoint('fsap-0b0b000000000000b', 'bob')] });
      expect(await homes().ensure('bob', 'fsap-0dead00000000000d')).toBe('fsap-0b0b000000000000b');
      expect(await homes().ensure('bob', 'fsap-0a11ce0000000000a')).toBe('fsap-0b0b000000000000b');
    });

    it('turns throttling that outlasted the client’s retries into a ThrottledError', async () => {
      efsMock.on(DescribeAccessPointsCommand, { FileSystemId: FS }).rejects(
        new ThrottlingException({
          message: 'slow down',
          $metadata: { attempts: 4, totalRetryDelay: 2500 },
        }),
      );
      await expect(homes().ensure('eve')).rejects.toThrow(
        /throttling EFS DescribeAccessPoints \(4 attempts over 2.5 s\)/,
      );
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
