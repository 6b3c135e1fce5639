import { createHash, randomBytes } from 'node:crypto';
import { awsError } from './errors.ts';

/**
 * Cognito user pools as hubless uses them: users with a status (FORCE_CHANGE_PASSWORD
 * until a permanent password is set or the invited user changes the temporary one; such
 * a user cannot complete a sign-in), enabled or disabled, attributes, groups; the
 * admin APIs' exceptions. The hosted UI (hosted-ui.ts) signs users in against this.
 */
export interface SimUser {
  username: string;
  sub: string;
  status: 'FORCE_CHANGE_PASSWORD' | 'CONFIRMED' | 'EXTERNAL_PROVIDER';
  enabled: boolean;
  password?: string;
  attributes: Array<{ Name?: string; Value?: string }>;
  groups: Set<string>;
  createdAt: Date;
}

/** What Cognito hands the pre sign-up trigger for an external provider's new user. */
export interface SimPreSignUpEvent {
  triggerSource: 'PreSignUp_ExternalProvider';
  userPoolId: string;
  userName: string;
  request: { userAttributes: Record<string, string> };
  response: Record<string, unknown>;
}

export class SimCognito {
  readonly users = new Map<string, SimUser>();
  /** Identities linked to native users (AdminLinkProviderForUser): "<provider>_<id>" -> username. */
  readonly links = new Map<string, string>();
  /** The pool's pre sign-up trigger, as deployed (the account runs it as its Lambda). */
  preSignUp?: (event: SimPreSignUpEvent) => Promise<unknown>;
  readonly groups = new Set<string>(['admin']);
  /** Invitations Cognito would have e-mailed: username -> temporary password. */
  readonly invitations = new Map<string, string>();
  readonly #userPoolId: string;

  constructor(userPoolId: string) {
    this.#userPoolId = userPoolId;
  }

  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    if (input.UserPoolId !== undefined && input.UserPoolId !== this.#userPoolId)
      throw awsError('ResourceNotFoundException', `User pool ${String(input.UserPoolId)} does not exist.`);
    switch (operation) {
      case 'AdminGetUser': {
        const user = this.#user(input.Username);
        return {
          Username: user.username,
          UserAttributes: [{ Name: 'sub', Value: user.sub }, ...user.attributes],
          Enabled: user.enabled,
          UserStatus: user.status,
          UserCreateDate: user.createdAt,
        };
      }
      case 'AdminListGroupsForUser':
        return { Groups: [...this.#user(input.Username).groups].map((GroupName) => ({ GroupName })) };
      case 'AdminCreateUser': {
        const username = String(input.Username);
        if (this.users.has(username))
          throw awsError('UsernameExistsException', 'User account already exists');
        const temporary = `Tmp-${randomBytes(6).toString('hex')}`;
        const user: SimUser = {
          username,
          sub: uuidOf(username),
          status: 'FORCE_CHANGE_PASSWORD',
          enabled: true,
          password: temporary,
          attributes: (input.UserAttributes as SimUser['attributes']) ?? [],
          groups: new Set(),
          createdAt: new Date(),
        };
        this.users.set(username, user);
        if (input.MessageAction !== 'SUPPRESS') this.invitations.set(username, temporary);
        return { User: { Username: username, UserStatus: user.status, Enabled: true } };
      }
      case 'AdminSetUserPassword': {
        const user = this.#user(input.Username);
        user.password = String(input.Password);
        if (input.Permanent) user.status = 'CONFIRMED';
        return {};
      }
      case 'AdminUpdateUserAttributes': {
        const user = this.#user(input.Username);
        for (const attribute of (input.UserAttributes as SimUser['attributes']) ?? []) {
          user.attributes = user.attributes.filter((a) => a.Name !== attribute.Name);
          user.attributes.push(attribute);
        }
        return {};
      }
      case 'AdminDeleteUser': {
        const user = this.#user(input.Username);
        this.users.delete(user.username);
        for (const [identity, linked] of this.links)
          if (linked === user.username) this.links.delete(identity);
        return {};
      }
      case 'AdminLinkProviderForUser': {
        // Cognito links an identity that has not signed in yet to an existing native user.
        const destination = input.DestinationUser as Record<string, string>;
        const source = input.SourceUser as Record<string, string>;
        if (destination.ProviderName !== 'Cognito')
          throw awsError('InvalidParameterException', 'DestinationUser must be a Cognito user.');
        if (source.ProviderAttributeName !== 'Cognito_Subject')
          throw awsError('InvalidParameterException', 'Only Cognito_Subject is simulated.');
        const user = this.#user(destination.ProviderAttributeValue);
        const identity = `${source.ProviderName}_${source.ProviderAttributeValue}`;
        if (this.users.has(identity) || this.links.has(identity))
          throw awsError(
            'InvalidParameterException',
            'Merging is not currently supported, provide a SourceUser that does not exist.',
          );
        this.links.set(identity, user.username);
        const identities = [...this.links]
          .filter(([, linked]) => linked === user.username)
          .map(([id]) => ({
            providerName: id.slice(0, id.indexOf('_')),
            userId: id.slice(id.indexOf('_') + 1),
          }));
        user.attributes = user.attributes.filter((a) => a.Name !== 'identities');
        user.attributes.push({ Name: 'identities', Value: JSON.stringify(identities) });
        return {};
      }
      case 'AdminDisableUser':
        this.#user(input.Username).enabled = false;
        return {};
      case 'AdminEnableUser':
        this.#user(input.Username).enabled = true;
        return {};
      case 'AdminAddUserToGroup': {
        const group = String(input.GroupName);
        if (!this.groups.has(group)) throw awsError('ResourceNotFoundException', 'Group not found.');
        this.#user(input.Username).groups.add(group);
        return {};
      }
      case 'AdminRemoveUserFromGroup':
        this.#user(input.Username).groups.delete(String(input.GroupName));
        return {};
      case 'CreateGroup': {
        const group = String(input.GroupName);
        if (this.groups.has(group))
          throw awsError('GroupExistsException', 'A group with the name already exists.');
        this.groups.add(group);
        return { Group: { GroupName: group } };
      }
      case 'ListGroups':
        return page(
          [...this.groups].map((GroupName) => ({ GroupName })),
          input,
          'Groups',
          'NextToken',
          60,
        );
      case 'ListUsersInGroup':
        return page(
          [...this.users.values()]
            .filter((user) => user.groups.has(String(input.GroupName)))
            .map((user) => ({ Username: user.username, Enabled: user.enabled, UserStatus: user.status })),
          input,
          'Users',
          'NextToken',
          60,
        );
      case 'ListUsers':
        return page(
          [...this.users.values()].map((user) => ({
            Username: user.username,
            Attributes: user.attributes,
            Enabled: user.enabled,
            UserStatus: user.status,
            UserCreateDate: user.createdAt,
          })),
          input,
          'Users',
          'PaginationToken',
          60,
        );
      case 'DescribeUserPoolClient':
        return { UserPoolClient: { ClientId: input.ClientId, UserPoolId: this.#userPoolId } };
      default:
        throw awsError('UnsupportedOperation', `The simulator does not implement Cognito ${operation}`);
    }
  }

  /**
   * A hosted-UI sign-in. Returns the user, or why Cognito refuses: a user in
   * FORCE_CHANGE_PASSWORD must give a new password along with the temporary one.
   */
  signIn(username: string, password: string, newPassword?: string): SimUser | { refused: string } {
    const user = this.users.get(username);
    if (!user || user.password !== password) return { refused: 'Incorrect username or password.' };
    if (!user.enabled) return { refused: 'User is disabled.' };
    if (user.status === 'FORCE_CHANGE_PASSWORD') {
      if (!newPassword) return { refused: 'NEW_PASSWORD_REQUIRED: change your temporary password.' };
      user.password = newPassword;
      user.status = 'CONFIRMED';
    }
    return user;
  }

  /**
   * A sign-in through one of the pool's identity providers, which said who the person is
   * (`subject`) and what the attribute mapping fills. As Cognito does: an identity linked
   * to a native user signs in as that user; a known federated user signs in as itself,
   * its mapped attributes refreshed; a new one runs the pre sign-up trigger, and is made
   * `<provider>_<subject>` unless the trigger linked it, in which case this first sign-in
   * fails with Cognito's "Already found an entry" (the next one signs in as the linked user).
   */
  async federatedSignIn(
    provider: string,
    subject: string,
    attributes: Record<string, string>,
  ): Promise<SimUser | { refused: string }> {
    const identity = `${provider}_${subject}`;
    const linked = this.links.get(identity);
    if (linked) {
      const user = this.users.get(linked);
      if (!user) return { refused: 'User does not exist.' };
      if (!user.enabled) return { refused: 'User is disabled.' };
      return user;
    }
    const known = this.users.get(identity);
    const mapped = Object.entries(attributes).map(([Name, Value]) => ({ Name, Value }));
    if (known) {
      if (!known.enabled) return { refused: 'User is disabled.' };
      known.attributes = [...known.attributes.filter((a) => !(a.Name && a.Name in attributes)), ...mapped];
      return known;
    }
    await this.preSignUp?.({
      triggerSource: 'PreSignUp_ExternalProvider',
      userPoolId: this.#userPoolId,
      userName: identity,
      request: { userAttributes: { ...attributes } },
      response: {},
    });
    if (this.links.has(identity)) return { refused: `Already found an entry for username ${identity}` };
    const user: SimUser = {
      username: identity,
      sub: uuidOf(identity),
      status: 'EXTERNAL_PROVIDER',
      enabled: true,
      attributes: [
        ...mapped,
        {
          Name: 'identities',
          Value: JSON.stringify([{ providerName: provider, userId: subject }]),
        },
      ],
      groups: new Set(),
      createdAt: new Date(),
    };
    this.users.set(identity, user);
    return user;
  }

  #user(name: unknown): SimUser {
    const user = this.users.get(String(name));
    if (!user) throw awsError('UserNotFoundException', 'User does not exist.');
    return user;
  }
}

function page(
  items: unknown[],
  input: Record<string, unknown>,
  key: string,
  tokenKey: string,
  max: number,
): Record<string, unknown> {
  const size = Math.min(Number(input.Limit ?? input.MaxResults ?? max), max);
  const from = Number(input[tokenKey] ?? 0);
  return {
    [key]: items.slice(from, from + size),
    ...(from + size < items.length ? { [tokenKey]: String(from + size) } : {}),
  };
}

function uuidOf(name: string): string {
  const h = createHash('sha256').update(`sub:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * EFS access points: one per CreateAccessPoint (a repeated client token answers
 * AccessPointAlreadyExists with the existing id, as EFS does), `creating` for a moment
 * and then `available`; 10,000 per file system.
 */
export class SimEfs {
  readonly points = new Map<
    string,
    {
      AccessPointId: string;
      created: number;
      Tags: Array<{ Key?: string; Value?: string }>;
      token?: string;
      input: Record<string, unknown>;
    }
  >();
  readonly #fileSystemId: string;
  readonly #creatingMs: number;

  constructor(fileSystemId: string, creatingMs: number) {
    this.#fileSystemId = fileSystemId;
    this.#creatingMs = creatingMs;
  }

  handle(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (operation) {
      case 'CreateAccessPoint': {
        if (input.FileSystemId !== this.#fileSystemId)
          throw awsError('FileSystemNotFound', 'File system not found', { status: 404 });
        const earlier = [...this.points.values()].find((point) => point.token === input.ClientToken);
        if (earlier)
          throw awsError('AccessPointAlreadyExists', 'An access point with the client token already exists', {
            status: 409,
            extra: { AccessPointId: earlier.AccessPointId },
          });
        if (this.points.size >= 10_000)
          throw awsError('AccessPointLimitExceeded', 'The file system has 10,000 access points', {
            status: 403,
          });
        const AccessPointId = `fsap-${createHash('sha256').update(`ap:${Math.random()}`).digest('hex').slice(0, 17)}`;
        const point = {
          AccessPointId,
          created: Date.now(),
          Tags: (input.Tags as Array<{ Key?: string; Value?: string }>) ?? [],
          token: input.ClientToken as string | undefined,
          input,
        };
        this.points.set(AccessPointId, point);
        return this.#describe(point);
      }
      case 'DescribeAccessPoints': {
        if (input.AccessPointId) {
          const point = this.points.get(String(input.AccessPointId));
          if (!point) throw awsError('AccessPointNotFound', 'Access point not found', { status: 404 });
          return { AccessPoints: [this.#describe(point)] };
        }
        const all = [...this.points.values()].map((point) => this.#describe(point));
        const size = Number(input.MaxResults ?? 100);
        const from = Number(input.NextToken ?? 0);
        return {
          AccessPoints: all.slice(from, from + size),
          ...(from + size < all.length ? { NextToken: String(from + size) } : {}),
        };
      }
      default:
        throw awsError('UnsupportedOperation', `The simulator does not implement EFS ${operation}`);
    }
  }

  #describe(point: {
    AccessPointId: string;
    created: number;
    Tags: unknown;
    input: Record<string, unknown>;
  }) {
    return {
      AccessPointId: point.AccessPointId,
      FileSystemId: this.#fileSystemId,
      Tags: point.Tags,
      PosixUser: point.input.PosixUser,
      RootDirectory: point.input.RootDirectory,
      LifeCycleState: Date.now() - point.created >= this.#creatingMs ? 'available' : 'creating',
    };
  }
}
