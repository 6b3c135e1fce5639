import '../support/aws-calls/checked.ts';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDisableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  ResourceNotFoundException,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CognitoDirectory } from '../../functions/adapters/aws/cognito-directory.ts';
import { NotFoundError } from '../../functions/core/errors.ts';

const cognitoMock = mockClient(CognitoIdentityProviderClient);
const POOL = 'eu-west-1_abc';
const created = new Date('2025-02-03T04:05:06.000Z');

function directory() {
  return new CognitoDirectory({
    cognito: new CognitoIdentityProviderClient({}),
    userPoolId: POOL,
  });
}

function notFound() {
  return new UserNotFoundException({ message: 'User does not exist.', $metadata: {} });
}

describe('CognitoDirectory', () => {
  beforeEach(() => cognitoMock.reset());

  describe('get', () => {
    it('maps the user, its groups and the admin group to the admin flag', async () => {
      cognitoMock.on(AdminGetUserCommand, { UserPoolId: POOL, Username: 'alice' }).resolves({
        Username: 'alice',
        Enabled: true,
        UserCreateDate: created,
        UserAttributes: [{ Name: 'email', Value: 'alice@example.org' }],
      });
      cognitoMock
        .on(AdminListGroupsForUserCommand)
        .resolves({ Groups: [{ GroupName: 'teachers' }, { GroupName: 'admin' }] });
      expect(await directory().get('Alice')).toEqual({
        name: 'alice',
        email: 'alice@example.org',
        groups: ['teachers'],
        admin: true,
        disabled: false,
        createdAt: created.toISOString(),
      });
    });

    it('returns undefined for an unknown user', async () => {
      cognitoMock.on(AdminGetUserCommand).rejects(notFound());
      expect(await directory().get('ghost')).toBeUndefined();
    });
  });

  describe('upsert', () => {
    it('creates a missing user without an invitation e-mail and adds its groups', async () => {
      cognitoMock
        .on(AdminGetUserCommand)
        .rejectsOnce(notFound())
        .resolves({ Username: 'bob', Enabled: true, UserCreateDate: created, UserAttributes: [] });
      cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [] });
      cognitoMock.on(AdminCreateUserCommand).resolves({});
      cognitoMock.on(AdminAddUserToGroupCommand).resolves({});
      const user = await directory().upsert({
        name: 'bob',
        email: 'bob@example.org',
        groups: ['course-101'],
        admin: true,
      });

      expect(cognitoMock.commandCalls(AdminCreateUserCommand)[0]?.args[0].input).toEqual({
        UserPoolId: POOL,
        Username: 'bob',
        UserAttributes: [
          { Name: 'email', Value: 'bob@example.org' },
          { Name: 'email_verified', Value: 'true' },
        ],
        // Cognito e-mails the invitation with a temporary password (never SUPPRESS: the user
        // would be stuck in FORCE_CHANGE_PASSWORD with a password nobody knows).
        DesiredDeliveryMediums: ['EMAIL'],
      });
      expect(cognitoMock.commandCalls(AdminSetUserPasswordCommand)).toHaveLength(0);
      expect(user.signIn).toEqual({ invited: true });
      expect(cognitoMock.commandCalls(AdminAddUserToGroupCommand).map((call) => call.args[0].input)).toEqual([
        { UserPoolId: POOL, Username: 'bob', GroupName: 'course-101' },
        { UserPoolId: POOL, Username: 'bob', GroupName: 'admin' },
      ]);
      expect(user).toMatchObject({
        name: 'bob',
        email: 'bob@example.org',
        groups: ['course-101'],
        admin: true,
      });
    });

    it('sets a permanent password for a user without e-mail and returns it once', async () => {
      cognitoMock
        .on(AdminGetUserCommand)
        .rejectsOnce(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }))
        .resolves({ Username: 'dan', Enabled: true, UserCreateDate: created, UserAttributes: [] });
      cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [] });
      const user = await directory().upsert({ name: 'dan' });
      expect(cognitoMock.commandCalls(AdminCreateUserCommand)[0]?.args[0].input).toMatchObject({
        Username: 'dan',
        MessageAction: 'SUPPRESS',
      });
      const set = cognitoMock.commandCalls(AdminSetUserPasswordCommand)[0]?.args[0].input;
      expect(set).toMatchObject({ UserPoolId: POOL, Username: 'dan', Permanent: true });
      expect(user.signIn).toEqual({ initialPassword: set?.Password });
      expect(set?.Password).toMatch(/^(?=.*[a-z])(?=.*[A-Z])(?=.*\d)(?=.*[^A-Za-z0-9]).{12,}$/);
    });

    it('updates the e-mail and moves the user between groups to match', async () => {
      cognitoMock.on(AdminGetUserCommand).resolves({
        Username: 'carol',
        Enabled: true,
        UserCreateDate: created,
        UserAttributes: [{ Name: 'email', Value: 'old@example.org' }],
      });
      cognitoMock
        .on(AdminListGroupsForUserCommand)
        .resolves({ Groups: [{ GroupName: 'old-course' }, { GroupName: 'admin' }] });
      await directory().upsert({
        name: 'carol',
        email: 'new@example.org',
        groups: ['new-course'],
        admin: false,
      });
      expect(cognitoMock.commandCalls(AdminUpdateUserAttributesCommand)[0]?.args[0].input).toEqual({
        UserPoolId: POOL,
        Username: 'carol',
        UserAttributes: [
          { Name: 'email', Value: 'new@example.org' },
          { Name: 'email_verified', Value: 'true' },
        ],
      });
      expect(
        cognitoMock.commandCalls(AdminAddUserToGroupCommand).map((call) => call.args[0].input.GroupName),
      ).toEqual(['new-course']);
      expect(
        cognitoMock
          .commandCalls(AdminRemoveUserFromGroupCommand)
          .map((call) => call.args[0].input.GroupName)
          .sort(),
      ).toEqual(['admin', 'old-course']);
    });

    it('creates a group that does not exist yet', async () => {
      cognitoMock
        .on(AdminGetUserCommand)
        .resolves({ Username: 'dan', Enabled: true, UserCreateDate: created });
      cognitoMock.on(AdminListGroupsForUserCommand).resolves({ Groups: [] });
      cognitoMock
        .on(AdminAddUserToGroupCommand)
        .rejectsOnce(new ResourceNotFoundException({ message: 'Group not found.', $metadata: {} }))
        .resolves({});
      cognitoMock.on(CreateGroupCommand).resolves({});
      await directory().upsert({ name: 'dan', groups: ['new-group'] });
      expect(cognitoMock.commandCalls(CreateGroupCommand)[0]?.args[0].input).toMatchObject({
        UserPoolId: POOL,
        GroupName: 'new-group',
      });
      expect(cognitoMock.commandCalls(AdminAddUserToGroupCommand)).toHaveLength(2);
    });
  });

  describe('disable', () => {
    it('disables sign-in', async () => {
      cognitoMock.on(AdminDisableUserCommand).resolves({});
      await directory().disable('Eve');
      expect(cognitoMock.commandCalls(AdminDisableUserCommand)[0]?.args[0].input).toEqual({
        UserPoolId: POOL,
        Username: 'eve',
      });
    });

    it('throws NotFoundError for an unknown user', async () => {
      cognitoMock.on(AdminDisableUserCommand).rejects(notFound());
      await expect(directory().disable('ghost')).rejects.toBeInstanceOf(NotFoundError);
    });
  });
});
