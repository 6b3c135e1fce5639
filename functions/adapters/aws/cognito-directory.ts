import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  type AttributeType,
  type CognitoIdentityProviderClient,
  CreateGroupCommand,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { initialPassword } from '../../core/ids.ts';
import type { Directory, NewUser, User } from '../../core/ports.ts';
import { normaliseUsername } from '../../core/username.ts';
import { ADMIN_GROUP } from './names.ts';
import { type AwsCaller, awsCaller, awsErrorMessage, awsErrorName } from './retry.ts';

export interface CognitoDirectoryConfig {
  cognito: Pick<CognitoIdentityProviderClient, 'send'>;
  userPoolId: string;
  /** Membership in this group is the admin flag. */
  adminGroup?: string;
}

/**
 * The Directory on a Cognito user pool. Usernames are hubless keys; `groups` are the
 * pool's groups except the admin group, whose membership is the `admin` flag. upsert
 * creates a missing group (groups gate profiles, so an LMS may name a new course group).
 * An unknown user is `undefined` for get and a NotFoundError for disable.
 */
export class CognitoDirectory implements Directory {
  readonly #cognito: Pick<CognitoIdentityProviderClient, 'send'>;
  readonly #pool: string;
  readonly #adminGroup: string;
  readonly #call: AwsCaller;

  constructor(config: CognitoDirectoryConfig) {
    this.#cognito = config.cognito;
    this.#pool = config.userPoolId;
    this.#adminGroup = config.adminGroup ?? ADMIN_GROUP;
    this.#call = awsCaller('Amazon Cognito user pools');
  }

  async get(name: string): Promise<User | undefined> {
    const key = normaliseUsername(name);
    try {
      const found = await this.#call('Cognito AdminGetUser', () =>
        this.#cognito.send(new AdminGetUserCommand({ UserPoolId: this.#pool, Username: key })),
      );
      const groups = await this.#groupsOf(key);
      return this.#toUser(
        found.Username ?? key,
        found.UserAttributes,
        found.Enabled,
        found.UserCreateDate,
        groups,
      );
    } catch (error) {
      if (awsErrorName(error) === 'UserNotFoundException') return undefined;
      throw error;
    }
  }

  /** Every user: ListUsers pages, plus one ListUsersInGroup per group (not one call per user). */
  async list(): Promise<User[]> {
    const membership = new Map<string, string[]>();
    for (const group of await this.#allGroups()) {
      let token: string | undefined;
      do {
        const page = await this.#call('Cognito ListUsersInGroup', () =>
          this.#cognito.send(
            new ListUsersInGroupCommand({ UserPoolId: this.#pool, GroupName: group, NextToken: token }),
          ),
        );
        for (const member of page.Users ?? []) {
          if (!member.Username) continue;
          membership.set(member.Username, [...(membership.get(member.Username) ?? []), group]);
        }
        token = page.NextToken;
      } while (token);
    }
    const users: User[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call('Cognito ListUsers', () =>
        this.#cognito.send(new ListUsersCommand({ UserPoolId: this.#pool, PaginationToken: token })),
      );
      for (const entry of page.Users ?? []) {
        if (!entry.Username) continue;
        users.push(
          this.#toUser(
            entry.Username,
            entry.Attributes,
            entry.Enabled,
            entry.UserCreateDate,
            membership.get(entry.Username) ?? [],
          ),
        );
      }
      token = page.PaginationToken;
    } while (token);
    return users.sort((a, b) => a.name.localeCompare(b.name));
  }

  async upsert(user: NewUser): Promise<User> {
    const key = normaliseUsername(user.name);
    let current = await this.get(key);
    let signIn: User['signIn'];
    if (!current) {
      try {
        // With an e-mail, Cognito sends its invitation (a temporary password the user changes at
        // first sign-in). Without one, a suppressed invitation would leave the user in
        // FORCE_CHANGE_PASSWORD with a password nobody knows (and ForgotPassword refused), so
        // hubless sets a permanent password and returns it this once.
        await this.#call('Cognito AdminCreateUser', () =>
          this.#cognito.send(
            new AdminCreateUserCommand({
              UserPoolId: this.#pool,
              Username: key,
              UserAttributes: [
                ...(user.email ? emailAttributes(user.email) : []),
                ...profileAttributes(user.profile),
              ],
              ...(user.email ? { DesiredDeliveryMediums: ['EMAIL'] } : { MessageAction: 'SUPPRESS' }),
            }),
          ),
        );
        if (user.email) {
          signIn = { invited: true };
        } else {
          const password = initialPassword();
          await this.#setPassword(key, password);
          signIn = { initialPassword: password };
        }
      } catch (error) {
        // A concurrent upsert created it first: carry on and update it.
        if (awsErrorName(error) !== 'UsernameExistsException') throw translateCognitoError(error);
      }
      current = (await this.get(key)) ?? {
        name: key,
        groups: [],
        admin: false,
        disabled: false,
        createdAt: new Date().toISOString(),
      };
    } else {
      const changed = [
        ...(user.email !== undefined && user.email !== current.email ? emailAttributes(user.email) : []),
        ...(user.profile !== undefined && user.profile !== current.profile
          ? profileAttributes(user.profile)
          : []),
      ];
      if (changed.length > 0) {
        await this.#call('Cognito AdminUpdateUserAttributes', () =>
          this.#cognito.send(
            new AdminUpdateUserAttributesCommand({
              UserPoolId: this.#pool,
              Username: key,
              UserAttributes: changed,
            }),
          ),
        );
      }
    }
    const wantGroups = new Set(user.groups ?? current.groups);
    wantGroups.delete(this.#adminGroup);
    if (user.admin ?? current.admin) wantGroups.add(this.#adminGroup);
    const haveGroups = new Set([...current.groups, ...(current.admin ? [this.#adminGroup] : [])]);
    for (const group of wantGroups) if (!haveGroups.has(group)) await this.#addToGroup(key, group);
    for (const group of haveGroups) {
      if (wantGroups.has(group)) continue;
      await this.#call('Cognito AdminRemoveUserFromGroup', () =>
        this.#cognito.send(
          new AdminRemoveUserFromGroupCommand({ UserPoolId: this.#pool, Username: key, GroupName: group }),
        ),
      );
    }
    const groups = [...wantGroups].filter((group) => group !== this.#adminGroup).sort();
    return {
      ...current,
      email: user.email ?? current.email,
      profile: user.profile ?? current.profile,
      groups,
      admin: wantGroups.has(this.#adminGroup),
      ...(signIn ? { signIn } : {}),
    };
  }

  async disable(name: string): Promise<void> {
    const key = normaliseUsername(name);
    try {
      await this.#call('Cognito AdminDisableUser', () =>
        this.#cognito.send(new AdminDisableUserCommand({ UserPoolId: this.#pool, Username: key })),
      );
    } catch (error) {
      throw translateCognitoError(error, key);
    }
  }

  async enable(name: string): Promise<void> {
    const key = normaliseUsername(name);
    try {
      await this.#call('Cognito AdminEnableUser', () =>
        this.#cognito.send(new AdminEnableUserCommand({ UserPoolId: this.#pool, Username: key })),
      );
    } catch (error) {
      throw translateCognitoError(error, key);
    }
  }

  /**
   * A permanent password, like the one upsert sets for a user without e-mail: a temporary
   * one would expire unused after the pool's TemporaryPasswordValidityDays, and the user
   * could then not sign in at all.
   */
  async resetPassword(name: string): Promise<string> {
    const key = normaliseUsername(name);
    const password = initialPassword();
    try {
      await this.#setPassword(key, password);
    } catch (error) {
      throw translateCognitoError(error, key);
    }
    return password;
  }

  #setPassword(key: string, password: string) {
    return this.#call('Cognito AdminSetUserPassword', () =>
      this.#cognito.send(
        new AdminSetUserPasswordCommand({
          UserPoolId: this.#pool,
          Username: key,
          Password: password,
          Permanent: true,
        }),
      ),
    );
  }

  async #addToGroup(key: string, group: string): Promise<void> {
    const add = () =>
      this.#call('Cognito AdminAddUserToGroup', () =>
        this.#cognito.send(
          new AdminAddUserToGroupCommand({ UserPoolId: this.#pool, Username: key, GroupName: group }),
        ),
      );
    try {
      await add();
    } catch (error) {
      if (awsErrorName(error) !== 'ResourceNotFoundException') throw translateCognitoError(error, key);
      try {
        await this.#call('Cognito CreateGroup', () =>
          this.#cognito.send(
            new CreateGroupCommand({
              UserPoolId: this.#pool,
              GroupName: group,
              Description: 'Created by hubless',
            }),
          ),
        );
      } catch (createError) {
        if (awsErrorName(createError) !== 'GroupExistsException')
          throw translateCognitoError(createError, key);
      }
      await add();
    }
  }

  async #groupsOf(key: string): Promise<string[]> {
    const groups: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call('Cognito AdminListGroupsForUser', () =>
        this.#cognito.send(
          new AdminListGroupsForUserCommand({ UserPoolId: this.#pool, Username: key, NextToken: token }),
        ),
      );
      for (const group of page.Groups ?? []) if (group.GroupName) groups.push(group.GroupName);
      token = page.NextToken;
    } while (token);
    return groups;
  }

  async #allGroups(): Promise<string[]> {
    const groups: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call('Cognito ListGroups', () =>
        this.#cognito.send(new ListGroupsCommand({ UserPoolId: this.#pool, NextToken: token })),
      );
      for (const group of page.Groups ?? []) if (group.GroupName) groups.push(group.GroupName);
      token = page.NextToken;
    } while (token);
    return groups;
  }

  #toUser(
    name: string,
    attributes: AttributeType[] | undefined,
    enabled: boolean | undefined,
    created: Date | undefined,
    groups: string[],
  ): User {
    const email = attributes?.find((attribute) => attribute.Name === 'email')?.Value;
    const user: User = {
      name,
      groups: groups.filter((group) => group !== this.#adminGroup).sort(),
      admin: groups.includes(this.#adminGroup),
      disabled: enabled === false,
      createdAt: (created ?? new Date(0)).toISOString(),
    };
    if (email !== undefined) user.email = email;
    const profile = attributes?.find((attribute) => attribute.Name === PROFILE_ATTRIBUTE)?.Value;
    if (profile) user.profile = profile;
    // Cognito lists the identities linked to a user (core/federation.ts) in this attribute.
    if (attributes?.some((attribute) => attribute.Name === 'identities')) user.viaIdentityProvider = true;
    return user;
  }
}

/** The user pool's custom attribute for the default profile (stacks/Identity.ts declares it). */
export const PROFILE_ATTRIBUTE = 'custom:profile';

function profileAttributes(profile: string | undefined): AttributeType[] {
  return profile === undefined ? [] : [{ Name: PROFILE_ATTRIBUTE, Value: profile }];
}

function emailAttributes(email: string): AttributeType[] {
  // The address comes from an admin or an LMS, not from the user, so it counts as verified.
  return [
    { Name: 'email', Value: email },
    { Name: 'email_verified', Value: 'true' },
  ];
}

function translateCognitoError(error: unknown, key?: string): unknown {
  switch (awsErrorName(error)) {
    case 'UserNotFoundException':
      return new NotFoundError(`There is no user "${key ?? ''}".`, 'user_not_found');
    case 'InvalidParameterException':
      return new ValidationError(
        `Cognito refused the user's details: ${awsErrorMessage(error)}`,
        'invalid_user',
      );
    default:
      return error;
  }
}
