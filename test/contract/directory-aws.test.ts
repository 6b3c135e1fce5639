import '../support/aws-calls/checked.ts';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  type AdminCreateUserCommandInput,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  AdminUpdateUserAttributesCommand,
  type AttributeType,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  GroupExistsException,
  ListGroupsCommand,
  ListUsersCommand,
  ListUsersInGroupCommand,
  ResourceNotFoundException,
  UserNotFoundException,
  UsernameExistsException,
} from '@aws-sdk/client-cognito-identity-provider';
import { mockClient } from 'aws-sdk-client-mock';
import { CognitoDirectory } from '../../functions/adapters/aws/cognito-directory.ts';
import { describeDirectoryContract } from './directory.contract.ts';

/** CognitoDirectory over a stateful stand-in for a user pool (users, groups, membership). */
const meta = { $metadata: {} };
function fakeUserPool() {
  const users = new Map<
    string,
    { attributes: AttributeType[]; enabled: boolean; created: Date; groups: Set<string> }
  >();
  const groups = new Set<string>();
  const mock = mockClient(CognitoIdentityProviderClient);
  mock.reset();
  const user = (name: string) => {
    const found = users.get(name);
    if (!found) throw new UserNotFoundException({ message: 'User does not exist.', ...meta });
    return found;
  };
  const group = (name: string) => {
    if (!groups.has(name)) throw new ResourceNotFoundException({ message: 'Group not found.', ...meta });
    return name;
  };
  mock.on(AdminGetUserCommand).callsFake((input: { Username: string }) => {
    const found = user(input.Username);
    return {
      Username: input.Username,
      UserAttributes: found.attributes,
      Enabled: found.enabled,
      UserCreateDate: found.created,
    };
  });
  mock.on(AdminListGroupsForUserCommand).callsFake((input: { Username: string }) => ({
    Groups: [...user(input.Username).groups].map((GroupName) => ({ GroupName })),
  }));
  mock.on(AdminCreateUserCommand).callsFake((input: AdminCreateUserCommandInput) => {
    const name = input.Username ?? '';
    if (users.has(name))
      throw new UsernameExistsException({ message: 'User account already exists', ...meta });
    users.set(name, {
      attributes: input.UserAttributes ?? [],
      enabled: true,
      created: new Date(),
      groups: new Set(),
    });
    return {};
  });
  mock
    .on(AdminUpdateUserAttributesCommand)
    .callsFake((input: { Username: string; UserAttributes: AttributeType[] }) => {
      const found = user(input.Username);
      const names = new Set(input.UserAttributes.map((attribute) => attribute.Name));
      found.attributes = [
        ...found.attributes.filter((attribute) => !names.has(attribute.Name)),
        ...input.UserAttributes,
      ];
      return {};
    });
  mock.on(AdminAddUserToGroupCommand).callsFake((input: { Username: string; GroupName: string }) => {
    user(input.Username).groups.add(group(input.GroupName));
    return {};
  });
  mock.on(AdminRemoveUserFromGroupCommand).callsFake((input: { Username: string; GroupName: string }) => {
    user(input.Username).groups.delete(group(input.GroupName));
    return {};
  });
  mock.on(CreateGroupCommand).callsFake((input: { GroupName: string }) => {
    if (groups.has(input.GroupName)) throw new GroupExistsException({ message: 'exists', ...meta });
    groups.add(input.GroupName);
    return {};
  });
  mock.on(ListGroupsCommand).callsFake(() => ({ Groups: [...groups].map((GroupName) => ({ GroupName })) }));
  mock.on(ListUsersInGroupCommand).callsFake((input: { GroupName: string }) => ({
    Users: [...users]
      .filter(([, entry]) => entry.groups.has(group(input.GroupName)))
      .map(([Username]) => ({ Username })),
  }));
  mock.on(ListUsersCommand).callsFake(() => ({
    Users: [...users].map(([Username, entry]) => ({
      Username,
      Attributes: entry.attributes,
      Enabled: entry.enabled,
      UserCreateDate: entry.created,
    })),
  }));
  mock.on(AdminDisableUserCommand).callsFake((input: { Username: string }) => {
    user(input.Username).enabled = false;
    return {};
  });
  mock.on(AdminEnableUserCommand).callsFake((input: { Username: string }) => {
    user(input.Username).enabled = true;
    return {};
  });
  mock.on(AdminSetUserPasswordCommand).callsFake((input: { Username: string }) => {
    user(input.Username);
    return {};
  });
}

describeDirectoryContract('CognitoDirectory over a mocked user pool', () => {
  fakeUserPool();
  return new CognitoDirectory({
    cognito: new CognitoIdentityProviderClient({ region: 'eu-west-1' }),
    userPoolId: 'eu-west-1_test',
  });
});
