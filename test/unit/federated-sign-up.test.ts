import type { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { describe, expect, it, vi } from 'vitest';
import { CognitoDirectory } from '../../functions/adapters/aws/cognito-directory.ts';
import { CognitoFederatedAccounts } from '../../functions/adapters/aws/cognito-federated-accounts.ts';
import { parseSettings } from '../../functions/core/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import {
  explainUnlinked,
  type FederatedAccounts,
  type FederationPolicy,
  federatedUsernameParts,
  IdentityCollisionError,
  type MappedUser,
  signUpFederated,
  UnlinkedFederatedIdentityError,
  UnmappableIdentityError,
} from '../../functions/core/federation.ts';
import {
  makeFederatedSignUpHandler,
  type PreSignUpEvent,
} from '../../functions/handlers/federated-sign-up.ts';
import { SimCognito } from '../aws-sim/directory.ts';

/**
 * AWS mode's federated sign-up: Cognito's `<provider>_<id>` names, the pre sign-up
 * trigger's use of core's mapping, the Cognito adapter that makes and links the hubless
 * user (on the simulated user pool), and the portal's reason for an unlinked identity.
 */
const policy: FederationPolicy = {
  usernameClaim: 'preferred_username',
  groupsClaim: 'custom:groups',
  groupMap: { 'cs101-staff': 'staff' },
  adminGroups: ['it-admins'],
};
const POOL = 'eu-west-1_TEST';

function simulatedPool(): {
  sim: SimCognito;
  accounts: CognitoFederatedAccounts;
  directory: CognitoDirectory;
} {
  const sim = new SimCognito(POOL);
  const cognito = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) =>
      sim.handle(command.constructor.name.replace(/Command$/, ''), command.input),
  } as unknown as CognitoIdentityProviderClient;
  const directory = new CognitoDirectory({ cognito, userPoolId: POOL });
  return { sim, directory, accounts: new CognitoFederatedAccounts({ cognito, userPoolId: POOL, directory }) };
}

describe('federatedUsernameParts', () => {
  it.each([
    ['University_jdoe', { provider: 'University', subject: 'jdoe' }],
    ['Google_1093_x', { provider: 'Google', subject: '1093_x' }],
    ['saml-idp_jdoe@uni.edu', { provider: 'saml-idp', subject: 'jdoe@uni.edu' }],
  ])('splits %s at the first underscore', (name, parts) => {
    expect(federatedUsernameParts(name)).toEqual(parts);
  });
  it.each(['alice', 'bob-2', '_x', 'x_'])('finds no provider in %s', (name) => {
    expect(federatedUsernameParts(name)).toBeUndefined();
  });
});

describe('signUpFederated', () => {
  it('maps the attributes with the provider as issuer and its id as subject', async () => {
    const seen: MappedUser[] = [];
    const accounts: FederatedAccounts = {
      signIn: async (mapped) => {
        seen.push(mapped);
        return { name: mapped.username, groups: [], admin: false, disabled: false, createdAt: '' };
      },
    };
    await signUpFederated(
      accounts,
      'University_u-1',
      { preferred_username: 'Jane.Doe', 'custom:groups': '[cs101-staff, it-admins]' },
      policy,
    );
    expect(seen).toEqual([
      {
        username: 'jane-doe',
        groups: ['staff'],
        admin: true,
        owner: { issuer: 'University', subject: 'u-1' },
      },
    ]);
  });

  it('links under the provider name as configured, whatever case Cognito wrote it in', async () => {
    const seen: MappedUser[] = [];
    const accounts: FederatedAccounts = {
      signIn: async (mapped) => {
        seen.push(mapped);
        return { name: mapped.username, groups: [], admin: false, disabled: false, createdAt: '' };
      },
    };
    const withNames = { usernameClaim: 'email', providers: ['University', 'Google'] } as const;
    await signUpFederated(accounts, 'google_1093', { email: 'jo@school.example' }, withNames);
    expect(seen[0]?.owner).toEqual({ issuer: 'Google', subject: '1093' });
  });

  it('refuses a Cognito name without a provider', async () => {
    const accounts: FederatedAccounts = { signIn: vi.fn() };
    await expect(signUpFederated(accounts, 'jdoe', { preferred_username: 'jdoe' }, policy)).rejects.toThrow(
      UnmappableIdentityError,
    );
    expect(accounts.signIn).not.toHaveBeenCalled();
  });
});

describe('CognitoFederatedAccounts on the user pool', () => {
  const jane: MappedUser = {
    username: 'jane-doe',
    email: 'jane@uni.example',
    groups: ['staff'],
    admin: true,
    owner: { issuer: 'University', subject: 'u-1' },
  };

  it('makes a confirmed native user with the mapped groups and links the identity to it, without an invitation', async () => {
    const { sim, accounts } = simulatedPool();
    const user = await accounts.signIn(jane);
    expect(user).toMatchObject({ name: 'jane-doe', groups: ['staff'], admin: true });
    const stored = sim.users.get('jane-doe');
    expect(stored?.status).toBe('CONFIRMED');
    expect(stored?.attributes).toContainEqual({ Name: 'email', Value: 'jane@uni.example' });
    expect(sim.invitations.size).toBe(0);
    expect(sim.links.get('University_u-1')).toBe('jane-doe');
  });

  it('lets the linked identity update its groups, and refuses another identity or a hubless-made user, changing nothing', async () => {
    const { sim, accounts, directory } = simulatedPool();
    await accounts.signIn(jane);
    expect(await accounts.signIn({ ...jane, groups: [], admin: false })).toMatchObject({
      groups: [],
      admin: false,
    });
    const other = accounts.signIn({ ...jane, owner: { issuer: 'University', subject: 'u-2' } });
    await expect(other).rejects.toThrow(IdentityCollisionError);
    await expect(other).rejects.toThrow('another person who signed in through the identity provider');
    await directory.upsert({ name: 'alice' });
    const taken = accounts.signIn({ ...jane, username: 'alice' });
    await expect(taken).rejects.toThrow('an account that was created in hubless itself');
    expect(sim.links.size).toBe(1);
    expect((await directory.get('alice'))?.viaIdentityProvider).toBeUndefined();
    expect((await directory.get('jane-doe'))?.viaIdentityProvider).toBe(true);
  });

  it('deletes the user it made when the link fails, so the next sign-in starts clean', async () => {
    const { sim, accounts } = simulatedPool();
    // The identity already exists as Cognito's own federated user: Cognito refuses the link.
    await sim.federatedSignIn('University', 'u-1', { preferred_username: 'x' });
    await expect(accounts.signIn(jane)).rejects.toThrow('Merging is not currently supported');
    expect(sim.users.has('jane-doe')).toBe(false);
  });
});

describe('the pre sign-up trigger', () => {
  const event = (triggerSource: string, userName = 'University_u-1'): PreSignUpEvent => ({
    triggerSource,
    userPoolId: POOL,
    userName,
    request: { userAttributes: { preferred_username: 'Jane.Doe' } },
    response: {},
  });

  it('links an external provider’s new user and leaves Cognito’s own sign-ups alone', async () => {
    const { sim, accounts } = simulatedPool();
    const log = vi.fn();
    const handler = makeFederatedSignUpHandler({ accounts: () => accounts, policy, log });
    const admin = event('PreSignUp_AdminCreateUser', 'alice');
    expect(await handler(admin)).toBe(admin);
    expect(sim.users.size).toBe(0);
    await handler(event('PreSignUp_ExternalProvider'));
    expect(sim.links.get('University_u-1')).toBe('jane-doe');
    expect(log).toHaveBeenCalledWith('info', 'federated identity linked', {
      cognitoUsername: 'University_u-1',
      username: 'jane-doe',
    });
  });

  it('lets a refused identity through unlinked, saying why in the log, and fails on anything else', async () => {
    const { sim, accounts } = simulatedPool();
    const log = vi.fn();
    const handler = makeFederatedSignUpHandler({ accounts: () => accounts, policy, log });
    await handler(event('PreSignUp_ExternalProvider'));
    const second = event('PreSignUp_ExternalProvider', 'University_u-2');
    expect(await handler(second)).toBe(second);
    expect(sim.links.has('University_u-2')).toBe(false);
    expect(log).toHaveBeenLastCalledWith(
      'warn',
      'federated sign-up refused: left unlinked',
      expect.objectContaining({ cognitoUsername: 'University_u-2', code: 'username_taken' }),
    );
    const broken = makeFederatedSignUpHandler({
      accounts: () => ({ signIn: async () => Promise.reject(new Error('Cognito is down')) }),
      policy,
    });
    await expect(broken(event('PreSignUp_ExternalProvider'))).rejects.toThrow('Cognito is down');
  });
});

describe('explainUnlinked: why the portal refuses an unlinked federated identity', () => {
  const unlinked = (claims: Record<string, unknown>) =>
    new UnlinkedFederatedIdentityError('University_u-9', claims);

  it('says the claim is missing, or that the name belongs to someone, as local mode does', async () => {
    const nobody = async () => undefined;
    const missing = await explainUnlinked(unlinked({}), policy, nobody);
    expect(missing).toBeInstanceOf(UnmappableIdentityError);
    expect(missing.message).toContain('did not send the "preferred_username" claim');
    const byPerson = await explainUnlinked(
      unlinked({ preferred_username: 'jane_doe' }),
      policy,
      async (name) => (name === 'jane-doe' ? { federated: true } : undefined),
    );
    expect(byPerson).toMatchObject({ status: 409, code: 'username_taken' });
    expect(byPerson.message).toContain('another person who signed in through the identity provider');
    const byHubless = await explainUnlinked(unlinked({ preferred_username: 'jane' }), policy, async () => ({
      federated: false,
    }));
    expect(byHubless.message).toContain('created in hubless itself');
  });

  it('tells the administrator what to delete once the name is free, and keeps the error without a policy', async () => {
    const free = await explainUnlinked(
      unlinked({ preferred_username: 'jane' }),
      policy,
      async () => undefined,
    );
    expect(free.message).toContain('delete the user pool\'s user "University_u-9"');
    const error = unlinked({ preferred_username: 'jane' });
    expect(await explainUnlinked(error, undefined, async () => undefined)).toBe(error);
  });
});

describe('HUBLESS_FEDERATION_POLICY', () => {
  it('is the policy as JSON, and a bad one is refused by name', () => {
    expect(parseSettings({ HUBLESS_FEDERATION_POLICY: JSON.stringify(policy) }).federation).toEqual(policy);
    expect(parseSettings({}).federation).toBeUndefined();
    expect(() => parseSettings({ HUBLESS_FEDERATION_POLICY: '{"usernameClaim":"sub"}' })).toThrow(
      ConfigError,
    );
    expect(() => parseSettings({ HUBLESS_FEDERATION_POLICY: 'nope' })).toThrow('HUBLESS_FEDERATION_POLICY');
  });
});
