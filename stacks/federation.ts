import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SecretValue, type Stack } from 'aws-cdk-lib';
import {
  type AttributeMapping,
  type IUserPoolIdentityProvider,
  ProviderAttribute,
  StringAttribute,
  type UserPool,
  UserPoolClientIdentityProvider,
  UserPoolIdentityProviderGoogle,
  UserPoolIdentityProviderOidc,
  UserPoolIdentityProviderSaml,
  UserPoolIdentityProviderSamlMetadata,
} from 'aws-cdk-lib/aws-cognito';
import type { FederationPolicy, UsernameClaim } from '../functions/core/federation.ts';
import type { StageConfig } from './config.ts';

/**
 * The school's identity providers on the user pool (SAML, OIDC, Google), each with the
 * attribute mapping that hands hubless what core/federation.ts reads: the username claim
 * the operator chose, the e-mail, and the groups. Cognito copies mapped attributes onto the
 * federated user at every sign-in, and the ALB hands them on in x-amzn-oidc-data.
 */
type Federation = NonNullable<StageConfig['federation']>;
type Provider = Federation['providers'][number];

/** Custom attributes the providers fill (the pool's `custom:` prefix is added by Cognito). */
export const FEDERATION_ATTRIBUTES = {
  // Before normalisation: longer than a username may be, so a long value is refused by
  // hubless with a clear page rather than by Cognito with an opaque sign-in error.
  hubless_username: new StringAttribute({ minLen: 1, maxLen: 128, mutable: true }),
  // A SAML multi-valued attribute arrives as "[a, b, ...]".
  groups: new StringAttribute({ maxLen: 2048, mutable: true }),
};

/** Where every provider's groups land, and what the sign-up trigger's policy reads as the groups claim. */
export const GROUPS_ATTRIBUTE = 'custom:groups';

/** Provider attributes each type releases without configuration. */
const DEFAULTS: Record<Provider['type'], { username?: string; email?: string }> = {
  saml: {},
  oidc: { username: 'preferred_username', email: 'email' },
  google: { email: 'email' },
};

export function identityProviders(
  stack: Stack,
  userPool: UserPool,
  federation: Federation,
  configDir: string,
): { providers: IUserPoolIdentityProvider[]; clientProviders: UserPoolClientIdentityProvider[] } {
  const providers = federation.providers.map((provider): IUserPoolIdentityProvider => {
    const attributeMapping = mappingFor(provider, federation.usernameClaim);
    if (provider.type === 'saml') {
      return new UserPoolIdentityProviderSaml(stack, `Saml-${provider.name}`, {
        userPool,
        name: provider.name,
        metadata: provider.metadataUrl
          ? UserPoolIdentityProviderSamlMetadata.url(provider.metadataUrl)
          : UserPoolIdentityProviderSamlMetadata.file(
              readMetadata(path.resolve(configDir, provider.metadataFile as string), provider.name),
            ),
        idpSignout: provider.idpSignout,
        attributeMapping,
      });
    }
    if (provider.type === 'oidc') {
      return new UserPoolIdentityProviderOidc(stack, `Oidc-${provider.name}`, {
        userPool,
        name: provider.name,
        issuerUrl: provider.issuer,
        clientId: provider.clientId,
        // A dynamic reference: CloudFormation reads the secret at deploy time; the
        // template and the cloud assembly never hold it.
        clientSecret: SecretValue.secretsManager(provider.clientSecretName).unsafeUnwrap(),
        scopes: provider.scopes,
        attributeMapping,
      });
    }
    return new UserPoolIdentityProviderGoogle(stack, 'Google', {
      userPool,
      clientId: provider.clientId,
      clientSecretValue: SecretValue.secretsManager(provider.clientSecretName),
      scopes: ['openid', 'email', 'profile'],
      attributeMapping,
    });
  });
  const clientProviders = federation.providers.map((provider) =>
    provider.type === 'google'
      ? UserPoolClientIdentityProvider.GOOGLE
      : UserPoolClientIdentityProvider.custom(provider.name),
  );
  return { providers, clientProviders };
}

/** The username attribute goes where usernameClaim says; groups into custom:groups. */
export function mappingFor(provider: Provider, usernameClaim: UsernameClaim): AttributeMapping {
  const defaults = DEFAULTS[provider.type];
  const username = provider.attributes.username ?? defaults.username;
  const email = provider.attributes.email ?? defaults.email;
  const { groups } = provider.attributes;
  const other = (name: string) => ProviderAttribute.other(name);
  const custom: Record<string, ProviderAttribute> = {};
  const mapping: { -readonly [K in keyof AttributeMapping]: AttributeMapping[K] } = {};
  if (email) mapping.email = other(email);
  // OIDC and Google say whether the address is verified; hubless refuses an unverified one as a username.
  if (provider.type !== 'saml') mapping.emailVerified = other('email_verified');
  if (username && usernameClaim === 'preferred_username') mapping.preferredUsername = other(username);
  // CDK writes `custom` keys into the template as they are: they must carry Cognito's "custom:" prefix.
  if (username && usernameClaim === 'custom:hubless_username') custom[usernameClaim] = other(username);
  if (groups) custom[GROUPS_ATTRIBUTE] = other(groups);
  if (Object.keys(custom).length > 0) mapping.custom = custom;
  return mapping;
}

function readMetadata(file: string, name: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(
      `federation provider "${name}": cannot read metadataFile ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ` +
        'save the IdP metadata XML there, or use metadataUrl',
    );
  }
}

/**
 * The mapping the sign-up trigger and the portal apply (core/federation.ts), as
 * HUBLESS_FEDERATION_POLICY: the username claim, and the groups from custom:groups when a
 * provider maps its groups there.
 */
export function federationPolicy(federation: Federation): FederationPolicy {
  const grouped = federation.providers.some((provider) => provider.attributes.groups);
  return {
    usernameClaim: federation.usernameClaim,
    ...(grouped ? { groupsClaim: GROUPS_ATTRIBUTE } : {}),
    ...(federation.groupMap ? { groupMap: federation.groupMap } : {}),
    ...(federation.adminGroups.length > 0 ? { adminGroups: federation.adminGroups } : {}),
    providers: federation.providers.map((provider) =>
      provider.type === 'google' ? 'Google' : provider.name,
    ),
  };
}
