import { createHash } from 'node:crypto';
import {
  type AccessPointDescription,
  CreateAccessPointCommand,
  DescribeAccessPointsCommand,
  type EFSClient,
} from '@aws-sdk/client-efs';
import { CapacityError, DependencyTimeoutError, isHublessError, SpawnError } from '../../core/errors.ts';
import type { Homes } from '../../core/ports.ts';
import { normaliseUsername } from '../../core/username.ts';
import { type AwsCaller, awsCaller, awsErrorMessage, awsErrorName } from './retry.ts';

/** The uid/gid the lab image runs as (jovyan:users), so files on EFS are owned by the user. */
export const LAB_UID = 1000;
export const LAB_GID = 100;
export const USER_TAG = 'hubless:user';

export interface EfsHomesOptions {
  efs: Pick<EFSClient, 'send'>;
  fileSystemId: string;
  /** How long ensure waits for a new access point to become available. */
  waitTimeoutMs?: number;
  pollIntervalMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/**
 * Homes on EFS: one access point per user, rooted at /home/<key> and forcing uid 1000 /
 * gid 100, so a task mounting it can see only that user's directory (the access point,
 * not the container, decides the root). The task definition mounts it with transit
 * encryption and IAM authorization.
 *
 * ensure(user) returns the access point id. Idempotent twice over: it looks for an
 * access point tagged with the user first, and CreateAccessPoint carries a client token
 * derived from (file system, user), so two concurrent first starts make one access point.
 * EFS allows 10,000 access points per file system; beyond that ensure throws CapacityError.
 */
export class EfsHomes implements Homes {
  readonly #efs: Pick<EFSClient, 'send'>;
  readonly #fileSystemId: string;
  readonly #call: AwsCaller;
  readonly #waitTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;

  constructor(options: EfsHomesOptions) {
    this.#efs = options.efs;
    this.#fileSystemId = options.fileSystemId;
    this.#call = awsCaller('Amazon EFS');
    // Inside a 29 s Lambda (and API Gateway's 30 s), with time left to start the task afterwards.
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 20_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#now = options.now ?? Date.now;
  }

  async ensure(user: string, known?: string): Promise<string> {
    const key = normaliseUsername(user);
    // The id an earlier session recorded: one describe, not a walk through every access point.
    const existing = (known && (await this.#describeOwn(known, key))) || (await this.#findByUser(key));
    if (existing?.AccessPointId) {
      if (existing.LifeCycleState === 'available') return existing.AccessPointId;
      return this.#waitAvailable(existing.AccessPointId, key);
    }
    const id = await this.#create(key);
    return this.#waitAvailable(id, key);
  }

  /** The access point `id` if it still exists and belongs to `key`; undefined otherwise. */
  async #describeOwn(id: string, key: string): Promise<AccessPointDescription | undefined> {
    if (!/^fsap-[0-9a-f]{8,40}$/.test(id)) return undefined;
    try {
      const described = await this.#call('EFS DescribeAccessPoints', () =>
        this.#efs.send(new DescribeAccessPointsCommand({ AccessPointId: id })),
      );
      const point = described.AccessPoints?.[0];
      const owned =
        point?.FileSystemId === this.#fileSystemId &&
        point.Tags?.some((tag) => tag.Key === USER_TAG && tag.Value === key) &&
        (point.LifeCycleState === 'available' || point.LifeCycleState === 'creating');
      return owned ? point : undefined;
    } catch (error) {
      if (awsErrorName(error) === 'AccessPointNotFound') return undefined;
      throw translateEfsError(error, key);
    }
  }

  async #findByUser(key: string): Promise<AccessPointDescription | undefined> {
    let nextToken: string | undefined;
    do {
      const page = await this.#call('EFS DescribeAccessPoints', () =>
        this.#efs.send(
          new DescribeAccessPointsCommand({ FileSystemId: this.#fileSystemId, NextToken: nextToken }),
        ),
      );
      const found = page.AccessPoints?.find(
        (point) =>
          point.Tags?.some((tag) => tag.Key === USER_TAG && tag.Value === key) &&
          (point.LifeCycleState === 'available' || point.LifeCycleState === 'creating'),
      );
      if (found) return found;
      nextToken = page.NextToken;
    } while (nextToken);
    return undefined;
  }

  async #create(key: string): Promise<string> {
    try {
      const created = await this.#call('EFS CreateAccessPoint', () =>
        this.#efs.send(
          new CreateAccessPointCommand({
            ClientToken: clientTokenFor(this.#fileSystemId, key),
            FileSystemId: this.#fileSystemId,
            PosixUser: { Uid: LAB_UID, Gid: LAB_GID },
            RootDirectory: {
              Path: `/home/${key}`,
              CreationInfo: { OwnerUid: LAB_UID, OwnerGid: LAB_GID, Permissions: '0750' },
            },
            Tags: [
              { Key: 'Name', Value: `hubless-home-${key}` },
              { Key: USER_TAG, Value: key },
            ],
          }),
        ),
      );
      if (!created.AccessPointId)
        throw new SpawnError(`EFS created no access point for ${key}'s home directory.`);
      return created.AccessPointId;
    } catch (error) {
      // The client token matched an earlier create: that access point is this user's home.
      const existingId =
        awsErrorName(error) === 'AccessPointAlreadyExists'
          ? (error as { AccessPointId?: string }).AccessPointId
          : undefined;
      if (existingId) return existingId;
      throw translateEfsError(error, key);
    }
  }

  async #waitAvailable(id: string, key: string): Promise<string> {
    const deadline = this.#now() + this.#waitTimeoutMs;
    for (;;) {
      const described = await this.#call('EFS DescribeAccessPoints', () =>
        this.#efs.send(new DescribeAccessPointsCommand({ AccessPointId: id })),
      );
      const state = described.AccessPoints?.[0]?.LifeCycleState;
      if (state === 'available') return id;
      if (state === 'error' || state === 'deleting' || state === 'deleted') {
        throw new SpawnError(
          `The home directory for ${key} could not be prepared (EFS access point ${id} is ${state}).`,
        );
      }
      if (this.#now() + this.#pollIntervalMs > deadline) {
        throw new DependencyTimeoutError(
          `The home directory for ${key} was not ready after ${Math.round(this.#waitTimeoutMs / 1000)} s ` +
            `(EFS access point ${id} is still ${state ?? 'unknown'}). EFS is usually ready in seconds; ` +
            'try again, and check the file system is available in this region.',
        );
      }
      await this.#sleep(this.#pollIntervalMs);
    }
  }
}

/** Same (file system, user) -> same token, so retried or concurrent creates make one access point. */
export function clientTokenFor(fileSystemId: string, key: string): string {
  return `home-${createHash('sha256').update(`${fileSystemId}:${key}`).digest('hex').slice(0, 40)}`;
}

function translateEfsError(error: unknown, key: string): unknown {
  const name = awsErrorName(error);
  switch (name) {
    case 'AccessPointLimitExceeded':
      return new CapacityError(
        'The home file system holds the maximum of 10,000 user homes (EFS access points). ' +
          'Remove homes of departed users, or add another file system for new users.',
      );
    case 'FileSystemNotFound':
    case 'IncorrectFileSystemLifeCycleState':
      return new SpawnError(
        `The home directory for ${key} could not be created: the EFS file system is missing or not available. ` +
          'Check the stage configuration (fileSystemId).',
        { cause: error },
      );
    default:
      if (isHublessError(error)) return error;
      return new SpawnError(
        `The home directory for ${key} could not be created (${name ?? 'error'}: ${awsErrorMessage(error)}).`,
        {
          cause: error,
        },
      );
  }
}
