import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalDirectory } from '../../functions/adapters/local/local-directory.ts';
import { parseGroupMap, parseSettings } from '../../functions/core/config.ts';
import { ConfigError } from '../../functions/core/errors.ts';
import {
  type FederatedIdentity,
  type FederationPolicy,
  groupList,
  IdentityCollisionError,
  mapFederatedIdentity,
  rewrite,
  signInFederated,
  UnmappableIdentityError,
} from '../../functions/core/federation.ts';

const UNI = 'https://idp.uni.example';
const identity = (claims: Record<string, unknown>, subject = 'u-1'): FederatedIdentity => ({
  issuer: UNI,
  subject,
  claims,
});
const byPreferred: FederationPolicy = { usernameClaim: 'preferred_username' };

function refusal(run: () => unknown): UnmappableIdentityError {
  try {
    run();
  } catch (error) {
    if (error instanceof UnmappableIdentityError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('mapFederatedIdentity: the username', () => {
  it.each([
    ['jdoe', 'jdoe'],
    ['Jane.Doe', 'jane-doe'],
    ["o'Brien_2", 'o-brien-2'],
    ['José Álvarez', 'jose-alvarez'],
    ['..jane..', 'jane'],
    ['  Bob  ', 'bob'],
  ])('preferred_username %j becomes %j', (claim, username) => {
    expect(mapFederatedIdentity(identity({ preferred_username: claim }), byPreferred).username).toBe(
      username,
    );
  });

  it('takes the local part of the e-mail, before the last "@"', () => {
    const policy: FederationPolicy = { usernameClaim: 'email' };
    expect(mapFederatedIdentity(identity({ email: 'Jane.Doe@uni.example' }), policy).username).toBe(
      'jane-doe',
    );
    expect(mapFederatedIdentity(identity({ email: '"a@b"@uni.example' }), policy).username).toBe('a-b');
  });

  it('refuses an e-mail the provider says is not verified', () => {
    const policy: FederationPolicy = { usernameClaim: 'email' };
    const error = refusal(() =>
      mapFederatedIdentity(identity({ email: 'jdoe@uni.example', email_verified: false }), policy),
    );
    expect(error.status).toBe(403);
    expect(error.message).toContain('not verified');
  });

  it('takes custom:hubless_username as it is, only lower-cased, never rewritten', () => {
    const policy: FederationPolicy = { usernameClaim: 'custom:hubless_username' };
    expect(mapFederatedIdentity(identity({ 'custom:hubless_username': 'JDoe-2' }), policy).username).toBe(
      'jdoe-2',
    );
    const error = refusal(() =>
      mapFederatedIdentity(identity({ 'custom:hubless_username': 'j.doe' }), policy),
    );
    expect(error.message).toContain('"j.doe" does not make a hubless username');
    expect(error.message).not.toContain('became');
  });

  it('says which claim is missing and what an administrator can do', () => {
    const error = refusal(() => mapFederatedIdentity(identity({ email: 'x@y.z' }), byPreferred));
    expect(error.code).toBe('unmappable_identity');
    expect(error.message).toContain('"preferred_username" claim');
  });

  it.each([
    ['a leading digit', '2jane'],
    ['nothing usable', '...'],
    ['more than 32 characters', 'a'.repeat(33)],
  ])('refuses %s with the username rule and the way out', (_label, claim) => {
    const error = refusal(() => mapFederatedIdentity(identity({ preferred_username: claim }), byPreferred));
    expect(error.message).toContain('Usernames may contain only');
    expect(error.message).toContain('custom:hubless_username');
  });

  it('shows what a rewritten name became', () => {
    const error = refusal(() =>
      mapFederatedIdentity(identity({ preferred_username: '2.Jane' }), byPreferred),
    );
    expect(error.message).toContain('(it became "2-jane")');
  });

  it('refuses an identity without issuer or subject', () => {
    expect(() => mapFederatedIdentity({ issuer: '', subject: 'x', claims: {} }, byPreferred)).toThrow(
      UnmappableIdentityError,
    );
    expect(() => mapFederatedIdentity({ issuer: UNI, subject: '', claims: {} }, byPreferred)).toThrow(
      UnmappableIdentityError,
    );
  });

  it('records the owner, and the e-mail only when it is not marked unverified', () => {
    const mapped = mapFederatedIdentity(
      identity({ preferred_username: 'jdoe', email: 'j@uni.example' }, 's-9'),
      byPreferred,
    );
    expect(mapped).toEqual({
      username: 'jdoe',
      email: 'j@uni.example',
      owner: { issuer: UNI, subject: 's-9' },
    });
    const unverified = mapFederatedIdentity(
      identity({ preferred_username: 'jdoe', email: 'j@uni.example', email_verified: false }),
      byPreferred,
    );
    expect(unverified.email).toBeUndefined();
  });

  it('rewrite is deterministic and idempotent', () => {
    for (const value of ['Jane.Doe', 'a__b', 'ÅSA-lund', 'x'])
      expect(rewrite(rewrite(value))).toBe(rewrite(value));
  });
});

describe('mapFederatedIdentity: groups and admin', () => {
  const claims = { preferred_username: 'jdoe', groups: ['cs101-staff', 'it-admins', 'library'] };

  it('leaves groups and admin to the directory without a groups claim', () => {
    const mapped = mapFederatedIdentity(identity(claims), byPreferred);
    expect(mapped.groups).toBeUndefined();
    expect(mapped.admin).toBeUndefined();
  });

  it('passes the provider groups through unchanged without a map, sorted and unique', () => {
    const mapped = mapFederatedIdentity(identity({ ...claims, groups: ['b', 'a', 'b'] }), {
      ...byPreferred,
      groupsClaim: 'groups',
    });
    expect(mapped.groups).toEqual(['a', 'b']);
    expect(mapped.admin).toBe(false);
  });

  it('keeps only mapped groups, renamed, and makes admin-group members administrators', () => {
    const mapped = mapFederatedIdentity(identity(claims), {
      ...byPreferred,
      groupsClaim: 'groups',
      groupMap: { 'cs101-staff': 'staff', 'it-admins': 'admins' },
      adminGroups: ['it-admins'],
    });
    expect(mapped.groups).toEqual(['admins', 'staff']);
    expect(mapped.admin).toBe(true);
  });

  it('a missing groups claim means no groups and not admin (the provider is the source)', () => {
    const mapped = mapFederatedIdentity(identity({ preferred_username: 'jdoe' }), {
      ...byPreferred,
      groupsClaim: 'groups',
      adminGroups: ['it-admins'],
    });
    expect(mapped).toMatchObject({ groups: [], admin: false });
  });

  it.each([
    [
      ['a', 'b'],
      ['a', 'b'],
    ],
    ['a,b', ['a', 'b']],
    ['[staff, it admins]', ['staff', 'it admins']],
    ['', []],
    [42, []],
    [['a', 3, ' '], ['a']],
  ])('reads the groups claim %j as %j', (value, groups) => {
    expect(groupList(value)).toEqual(groups);
  });

  it('does not take a group map entry from Object.prototype', () => {
    const mapped = mapFederatedIdentity(identity({ preferred_username: 'jdoe', groups: ['constructor'] }), {
      ...byPreferred,
      groupsClaim: 'groups',
      groupMap: { staff: 'staff' },
    });
    expect(mapped.groups).toEqual([]);
  });
});

describe('signInFederated on the local directory: collisions are refused, never merged', () => {
  let dataDir: string;
  let directory: LocalDirectory;
  const policy: FederationPolicy = { usernameClaim: 'preferred_username', groupsClaim: 'groups' };

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hubless-federation-'));
    directory = new LocalDirectory({ dataDir });
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('creates the user on first sign-in without a password, and updates it on the next', async () => {
    const first = await signInFederated(
      directory,
      identity({ preferred_username: 'Jane.Doe', groups: ['a'] }),
      policy,
    );
    expect(first).toMatchObject({ name: 'jane-doe', groups: ['a'], admin: false, disabled: false });
    expect(first).not.toHaveProperty('federated');
    expect(first.signIn).toBeUndefined();
    const again = await signInFederated(
      directory,
      identity({ preferred_username: 'jane.doe', groups: ['b'] }),
      policy,
    );
    expect(again.groups).toEqual(['b']);
    expect(await directory.verifyPassword('jane-doe', '')).toBeUndefined();
  });

  it('refuses another subject of the same issuer mapping to the same name', async () => {
    await signInFederated(directory, identity({ preferred_username: 'jane.doe' }, 'u-1'), policy);
    const other = signInFederated(directory, identity({ preferred_username: 'jane_doe' }, 'u-2'), policy);
    await expect(other).rejects.toThrow(IdentityCollisionError);
    await expect(other).rejects.toMatchObject({ status: 409, code: 'username_taken', username: 'jane-doe' });
    await expect(other).rejects.toThrow(/another person who signed in through the identity provider/);
  });

  it('refuses the same subject from another issuer', async () => {
    await signInFederated(directory, identity({ preferred_username: 'jdoe' }, 'u-1'), policy);
    const elsewhere = {
      issuer: 'https://other.example',
      subject: 'u-1',
      claims: { preferred_username: 'jdoe' },
    };
    await expect(signInFederated(directory, elsewhere, policy)).rejects.toThrow(IdentityCollisionError);
  });

  it('refuses a name that belongs to an account made in hubless, and leaves it unchanged', async () => {
    await directory.upsert({ name: 'alice', password: 'alice-password', groups: ['x'] });
    await expect(
      signInFederated(directory, identity({ preferred_username: 'Alice', groups: ['y'] }), policy),
    ).rejects.toThrow(/created in hubless itself/);
    expect((await directory.get('alice'))?.groups).toEqual(['x']);
    expect(await directory.verifyPassword('alice', 'alice-password')).toBeDefined();
  });

  it('lets only one of two identities racing for a name win', async () => {
    const results = await Promise.allSettled([
      signInFederated(directory, identity({ preferred_username: 'sam' }, 'u-1'), policy),
      signInFederated(directory, identity({ preferred_username: 'Sam' }, 'u-2'), policy),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('keeps an administrator’s changes made after the first sign-in, and a disabled user disabled', async () => {
    await signInFederated(directory, identity({ preferred_username: 'kim' }), {
      usernameClaim: 'preferred_username',
    });
    await directory.upsert({ name: 'kim', admin: true, groups: ['staff'] });
    await directory.disable('kim');
    const again = await signInFederated(directory, identity({ preferred_username: 'kim' }), {
      usernameClaim: 'preferred_username',
    });
    expect(again).toMatchObject({ admin: true, groups: ['staff'], disabled: true });
  });
});

describe('local mode settings for an upstream provider', () => {
  const upstream = {
    HUBLESS_OIDC_ISSUER: 'https://idp.uni.example/realms/main',
    HUBLESS_OIDC_CLIENT_ID: 'hubless',
    HUBLESS_OIDC_CLIENT_SECRET: 's3cret',
  };

  it('is off unless set, and the embedded provider stays the default', () => {
    expect(parseSettings({}).local.upstream).toBeUndefined();
  });

  it('reads the provider, the claims and the group mapping', () => {
    const settings = parseSettings({
      ...upstream,
      HUBLESS_OIDC_USERNAME_CLAIM: 'email',
      HUBLESS_OIDC_GROUPS_CLAIM: 'groups',
      HUBLESS_OIDC_GROUP_MAP: 'cs101-staff=staff, it=admins',
      HUBLESS_OIDC_ADMIN_GROUPS: 'it, deans',
    });
    expect(settings.local.upstream).toEqual({
      ...{ issuer: upstream.HUBLESS_OIDC_ISSUER, clientId: 'hubless', clientSecret: 's3cret' },
      scopes: 'openid email profile',
      policy: {
        usernameClaim: 'email',
        groupsClaim: 'groups',
        groupMap: { 'cs101-staff': 'staff', it: 'admins' },
        adminGroups: ['it', 'deans'],
      },
    });
    expect(parseSettings(upstream).local.upstream?.policy).toEqual({ usernameClaim: 'preferred_username' });
  });

  it('names the missing variable when only some of the three are set', () => {
    expect(() => parseSettings({ HUBLESS_OIDC_ISSUER: upstream.HUBLESS_OIDC_ISSUER })).toThrow(
      /HUBLESS_OIDC_CLIENT_ID, HUBLESS_OIDC_CLIENT_SECRET \(unset\)/,
    );
  });

  it('refuses an unknown username claim, a bad group map and groups settings without a claim', () => {
    expect(() => parseSettings({ ...upstream, HUBLESS_OIDC_USERNAME_CLAIM: 'sub' })).toThrow(
      /HUBLESS_OIDC_USERNAME_CLAIM \(got "sub"\)/,
    );
    expect(() =>
      parseSettings({ ...upstream, HUBLESS_OIDC_GROUPS_CLAIM: 'groups', HUBLESS_OIDC_GROUP_MAP: 'staff' }),
    ).toThrow(ConfigError);
    expect(() => parseSettings({ ...upstream, HUBLESS_OIDC_ADMIN_GROUPS: 'it' })).toThrow(
      /HUBLESS_OIDC_GROUPS_CLAIM \(unset\)/,
    );
  });

  it('parses a group map, keeping "=" inside provider group names', () => {
    expect(parseGroupMap('cn=staff=staff, it=admins,')).toEqual({ 'cn=staff': 'staff', it: 'admins' });
    expect(() => parseGroupMap('=staff')).toThrow(/is not "provider-group=hubless-group"/);
    expect(() => parseGroupMap('it=')).toThrow(/is not "provider-group=hubless-group"/);
  });
});
