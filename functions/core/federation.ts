import { HublessError } from './errors.ts';
import type { User } from './ports.ts';
import { normaliseUsername, USERNAME_RULE } from './username.ts';

/**
 * Sign-in through a school's identity provider (SAML, OIDC, Google): how a federated
 * identity becomes a hubless user, the same way in both modes (local mode's upstream
 * OpenID provider, and Cognito's federated users behind the ALB on AWS).
 *
 * The username is deterministic: one configured claim, read the same way every time.
 * - `custom:hubless_username`: taken as it is, only lower-cased (normaliseUsername). It is
 *   the claim an operator fills on purpose, so hubless never rewrites it.
 * - `preferred_username`, or the local part of `email` (before the last "@"): accents are
 *   dropped ("José" -> "jose"), every run of other characters than a-z and 0-9 becomes one
 *   hyphen ("Jane.Doe" -> "jane-doe", "o'brien_2" -> "o-brien-2"), hyphens at either end
 *   are removed; the result must then pass the one username rule (core/username.ts).
 *   An e-mail the provider says is not verified is refused.
 *
 * Rewriting could make two people one name ("jane.doe" and "jane_doe"), so the name is
 * never merged: the first identity (issuer + subject) to sign in with a name owns it, and
 * another identity mapping to the same name, or to an account made in hubless (a local
 * password, an LMS user), is refused with IdentityCollisionError. FederatedAccounts
 * records the owner atomically with the user.
 *
 * Groups (optional): a claim holding a list (a JSON array, or a string of names separated
 * by commas; Cognito hands a SAML multi-valued attribute over as "[a, b]").
 * With a `groupMap`, only the provider's groups named in it count, renamed to the hubless
 * group it gives; without one, the provider's group names are used as they are. A
 * provider group listed in `adminGroups` makes the user an administrator. When no groups
 * claim is configured, groups and the admin flag stay what an administrator set.
 */

/** The claims an operator can choose as the username. */
export const USERNAME_CLAIMS = ['preferred_username', 'email', 'custom:hubless_username'] as const;
export type UsernameClaim = (typeof USERNAME_CLAIMS)[number];

export interface FederationPolicy {
  usernameClaim: UsernameClaim;
  /** The claim holding the provider's groups; absent: groups are not taken from the provider. */
  groupsClaim?: string;
  /** Provider group -> hubless group. When set, only the groups named here are kept. */
  groupMap?: Readonly<Record<string, string>>;
  /** Provider groups whose members are hubless administrators. */
  adminGroups?: readonly string[];
  /**
   * AWS mode: the user pool's provider names as configured. Cognito's `<provider>_<id>`
   * name does not always keep the configured case (`google_…` for "Google"), and linking
   * needs the exact name, so the prefix is matched to these without regard to case.
   */
  providers?: readonly string[];
}

/** Who signed in, as the provider said it: the claims of its ID token (and userinfo). */
export interface FederatedIdentity {
  /** The provider's issuer (`iss`), or on AWS the Cognito provider name. */
  issuer: string;
  /** The provider's stable id of the person (`sub`). */
  subject: string;
  claims: Readonly<Record<string, unknown>>;
}

/** The hubless user a federated identity maps to. */
export interface MappedUser {
  username: string;
  email?: string;
  /** Absent when the policy has no groups claim: the directory's groups stay. */
  groups?: string[];
  admin?: boolean;
  /** Who owns `username` from the first sign-in on. */
  owner: { issuer: string; subject: string };
}

/** The identity's claims cannot make a hubless username: the provider or the configuration must change. */
export class UnmappableIdentityError extends HublessError {
  constructor(reason: string) {
    super('unmappable_identity', 403, reason);
  }
}

/** The name belongs to another identity or to an account made in hubless: refused, never merged. */
export class IdentityCollisionError extends HublessError {
  readonly username: string;
  constructor(username: string, reason: string) {
    super('username_taken', 409, reason);
    this.username = username;
  }
}

/**
 * Where federated users are kept: the directory, with each user's owner identity.
 * Contract of `signIn(mapped)`, atomic per username:
 * - no user of that name: creates it (no password: it signs in only through the provider)
 *   with the mapped email, groups and admin flag, and records `mapped.owner`;
 * - a user owned by the same issuer and subject: updates email, and groups and admin when
 *   the mapping carries them; returns the user (a disabled user stays disabled);
 * - a user owned by another identity, or one that has no owner (made in hubless: a
 *   password, the CLI, the API, an LTI launch): throws IdentityCollisionError and
 *   changes nothing.
 */
export interface FederatedAccounts {
  signIn(mapped: MappedUser): Promise<User>;
}

/** The message a refused name carries; one wording for both modes. */
export function collisionMessage(username: string, byAnotherIdentity: boolean): string {
  const whose = byAnotherIdentity
    ? 'another person who signed in through the identity provider before you'
    : 'an account that was created in hubless itself';
  return (
    `The username "${username}" that your sign-in maps to already belongs to ${whose}, ` +
    'so hubless will not merge the two. Ask your hubless administrator: they can give one of you ' +
    'another name (for example through the custom:hubless_username attribute at the identity provider).'
  );
}

/** Maps the identity to a hubless user, or throws UnmappableIdentityError saying what to change. */
export function mapFederatedIdentity(identity: FederatedIdentity, policy: FederationPolicy): MappedUser {
  if (!identity.issuer || !identity.subject) {
    throw new UnmappableIdentityError('The identity provider sent no issuer or subject; sign in again.');
  }
  const { claims } = identity;
  const mapped: MappedUser = {
    username: usernameFrom(claims, policy.usernameClaim),
    owner: { issuer: identity.issuer, subject: identity.subject },
  };
  if (typeof claims.email === 'string' && claims.email && claims.email_verified !== false) {
    mapped.email = claims.email;
  }
  if (policy.groupsClaim) {
    const theirs = groupList(claims[policy.groupsClaim]);
    const admin = new Set(policy.adminGroups ?? []);
    mapped.admin = theirs.some((group) => admin.has(group));
    const map = policy.groupMap;
    const ours = map
      ? theirs.flatMap((group) => (Object.hasOwn(map, group) ? [map[group] as string] : []))
      : theirs;
    mapped.groups = [...new Set(ours)].sort();
  }
  return mapped;
}

function usernameFrom(claims: Readonly<Record<string, unknown>>, claim: UsernameClaim): string {
  const value = claims[claim];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new UnmappableIdentityError(
      `Your identity provider did not send the "${claim}" claim, which this hubless uses as the username. ` +
        `An administrator must make the provider release it (or choose another claim).`,
    );
  }
  if (claim === 'custom:hubless_username') return checked(value, claim, value);
  let source = value;
  if (claim === 'email') {
    if (claims.email_verified === false || claims.email_verified === 'false') {
      throw new UnmappableIdentityError(
        `Your identity provider says the e-mail address ${JSON.stringify(value)} is not verified, ` +
          'so it cannot name your hubless account. Verify it with the provider, then sign in again.',
      );
    }
    const at = value.lastIndexOf('@');
    source = at > 0 ? value.slice(0, at) : value;
  }
  return checked(rewrite(source), claim, value);
}

/** Accents dropped, other runs of non a-z/0-9 become one hyphen, no hyphen at either end. */
export function rewrite(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function checked(candidate: string, claim: UsernameClaim, original: string): string {
  try {
    return normaliseUsername(candidate);
  } catch {
    const shown = JSON.stringify(original.length > 60 ? `${original.slice(0, 60)}…` : original);
    throw new UnmappableIdentityError(
      `Your "${claim}" ${shown} does not make a hubless username` +
        (candidate !== original.trim().toLowerCase() && candidate ? ` (it became "${candidate}")` : '') +
        `. ${USERNAME_RULE} An administrator can set custom:hubless_username for you at the identity provider.`,
    );
  }
}

/** The provider's groups: a list, or a string of names separated by commas ("[a, b]" too). */
export function groupList(value: unknown): string[] {
  const items = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.replace(/^\s*\[|\]\s*$/g, '').split(',')
      : [];
  return [
    ...new Set(items.filter((item): item is string => typeof item === 'string').map((item) => item.trim())),
  ].filter(Boolean);
}

/** Maps the identity and claims its name: the user to sign in, or a clear refusal. */
export async function signInFederated(
  accounts: FederatedAccounts,
  identity: FederatedIdentity,
  policy: FederationPolicy,
): Promise<User> {
  return accounts.signIn(mapFederatedIdentity(identity, policy));
}

/**
 * AWS mode: Cognito names a user who signs in through one of the pool's identity providers
 * `<provider>_<id>` (provider names have no underscore: stacks/config.ts). The underscore
 * is never in a hubless username, so such a name is always a federated one.
 */
export function federatedUsernameParts(
  cognitoUsername: string,
): { provider: string; subject: string } | undefined {
  const cut = cognitoUsername.indexOf('_');
  if (cut <= 0 || cut === cognitoUsername.length - 1) return undefined;
  return { provider: cognitoUsername.slice(0, cut), subject: cognitoUsername.slice(cut + 1) };
}

/**
 * AWS mode's entry point for every federated provider (SAML, OIDC, Google, the LTI
 * platform's OIDC bridge): Cognito's pre sign-up trigger for an external provider, with
 * the new user's Cognito name (`<provider>_<id>`) and the attributes the provider's
 * attribute mapping filled. The identity's owner is the provider name and its id; the
 * mapping and the refusals are exactly local mode's (signInFederated). On success the
 * FederatedAccounts adapter has made the hubless user and linked the identity to it, so
 * from then on Cognito signs the person in under the hubless name.
 */
export async function signUpFederated(
  accounts: FederatedAccounts,
  cognitoUsername: string,
  attributes: Readonly<Record<string, unknown>>,
  policy: FederationPolicy,
): Promise<User> {
  const parts = federatedUsernameParts(cognitoUsername);
  if (!parts) {
    throw new UnmappableIdentityError(
      `Cognito named the new federated user ${JSON.stringify(cognitoUsername)}, not "<provider>_<id>"; ` +
        'identity provider names must not contain "_".',
    );
  }
  const configured = policy.providers?.find((name) => name.toLowerCase() === parts.provider.toLowerCase());
  return signInFederated(
    accounts,
    { issuer: configured ?? parts.provider, subject: parts.subject, claims: attributes },
    policy,
  );
}

/**
 * A federated identity the load balancer let through that is not linked to a hubless user:
 * its first sign-in was refused by the pre sign-up trigger (a taken name, no usable claim),
 * so Cognito kept the person under its own `<provider>_<id>` name. The portal turns this
 * into the refusal's reason (explainUnlinked); everything else refuses it.
 */
export class UnlinkedFederatedIdentityError extends HublessError {
  readonly cognitoUsername: string;
  readonly claims: Readonly<Record<string, unknown>>;
  constructor(cognitoUsername: string, claims: Readonly<Record<string, unknown>>) {
    super(
      'federated_not_linked',
      403,
      'hubless could not give your school account a hubless username. Ask your hubless administrator.',
    );
    this.cognitoUsername = cognitoUsername;
    this.claims = claims;
  }
}

/**
 * Why an unlinked federated identity cannot sign in: the same mapping the trigger ran, on
 * the claims the load balancer passed (Cognito's userinfo: the attributes the provider
 * filled). Returns the error to show: unmappable (403), the name taken (409, the message
 * local mode shows), or, when the name has been freed since, what the administrator does.
 */
export async function explainUnlinked(
  error: UnlinkedFederatedIdentityError,
  policy: FederationPolicy | undefined,
  existing: (username: string) => Promise<{ federated: boolean } | undefined>,
): Promise<HublessError> {
  const parts = federatedUsernameParts(error.cognitoUsername);
  if (!policy || !parts) return error;
  let mapped: MappedUser;
  try {
    mapped = mapFederatedIdentity(
      { issuer: parts.provider, subject: parts.subject, claims: error.claims },
      policy,
    );
  } catch (unmappable) {
    if (unmappable instanceof HublessError) return unmappable;
    throw unmappable;
  }
  const holder = await existing(mapped.username);
  if (holder) {
    return new IdentityCollisionError(mapped.username, collisionMessage(mapped.username, holder.federated));
  }
  return new UnmappableIdentityError(
    `Your first sign-in could not get the username "${mapped.username}", which is free now. ` +
      `Ask your hubless administrator to delete the user pool's user "${error.cognitoUsername}"; ` +
      'your next sign-in then claims the name.',
  );
}
