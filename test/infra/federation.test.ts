import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseStageConfig, TEST_STAGE_DEFAULTS } from '../../stacks/config.ts';
import { mappingFor } from '../../stacks/federation.ts';
import { type StackName, type Synthesized, synthesize } from './synth.ts';

/**
 * The school's identity providers on the user pool: a SAML IdP (metadata from a file), an
 * OIDC IdP (client secret from Secrets Manager) and Google, each with the attribute mapping
 * hubless reads, all offered by the ALB's app client; and the configuration errors an
 * operator gets before anything is deployed.
 */
const METADATA = `<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.uni.example/shibboleth"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.uni.example/idp/profile/SAML2/Redirect/SSO"/></md:IDPSSODescriptor></md:EntityDescriptor>`;

const federation = {
  usernameClaim: 'preferred_username',
  groupMap: { 'cs101-staff': 'staff' },
  adminGroups: ['it-admins'],
  providers: [
    {
      type: 'saml',
      name: 'University',
      metadataFile: '',
      attributes: {
        username: 'urn:oid:0.9.2342.19200300.100.1.1',
        email: 'urn:oid:0.9.2342.19200300.100.1.3',
        groups: 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1',
      },
    },
    {
      type: 'oidc',
      name: 'Keycloak',
      issuer: 'https://login.uni.example/realms/students',
      clientId: 'hubless',
      clientSecretName: 'hubless/keycloak-client-secret',
      scopes: ['openid', 'email', 'profile', 'groups'],
      attributes: { groups: 'groups' },
    },
    {
      type: 'google',
      clientId: 'abc.apps.googleusercontent.com',
      clientSecretName: 'hubless/google',
      // Google releases no preferred_username: its e-mail fills it.
      attributes: { username: 'email' },
    },
  ],
};

function failure(raw: unknown): string {
  try {
    parseStageConfig(raw, 'test');
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('federation configuration', () => {
  const withProviders = (providers: unknown[], extra: Record<string, unknown> = {}) => ({
    ...TEST_STAGE_DEFAULTS,
    federation: { providers, ...extra },
  });
  const saml = { type: 'saml', name: 'Uni', metadataUrl: 'https://idp.uni.example/md.xml' };

  it('names the SAML attribute that must hold the username, and the one metadata source', () => {
    expect(failure(withProviders([saml]))).toContain(
      'federation.providers.0.attributes.username: name the SAML attribute that holds the username',
    );
    expect(
      failure(withProviders([{ ...saml, metadataFile: 'md.xml', attributes: { username: 'uid' } }])),
    ).toContain('federation.providers.0.metadataUrl: set exactly one of metadataUrl or metadataFile');
  });

  it('tells Google users to use the e-mail, since Google releases no preferred_username', () => {
    const google = { type: 'google', clientId: 'x', clientSecretName: 'hubless/google' };
    expect(failure(withProviders([google]))).toContain('Google releases no preferred_username');
    expect(() => parseStageConfig(withProviders([google], { usernameClaim: 'email' }), 'test')).not.toThrow();
  });

  it('refuses reserved or duplicate names, http issuers, plain secrets and groups without a groups attribute', () => {
    const oidc = {
      type: 'oidc',
      name: 'Uni',
      issuer: 'https://a.example',
      clientId: 'c',
      clientSecretName: 's',
    };
    expect(failure(withProviders([{ ...oidc, name: 'Cognito' }]))).toContain('a name Cognito reserves');
    // Cognito names a federated user "<provider>_<id>": an underscore would make that ambiguous.
    expect(failure(withProviders([{ ...oidc, name: 'uni_idp' }]))).toContain('federation.providers.0.name');
    expect(failure(withProviders([oidc, oidc]))).toContain('duplicates provider "Uni"');
    expect(failure(withProviders([{ ...oidc, issuer: 'http://a.example' }]))).toContain(
      'federation.providers.0.issuer',
    );
    expect(failure(withProviders([{ ...oidc, clientSecret: 'hunter2' }]))).toContain('clientSecret');
    expect(failure(withProviders([oidc], { adminGroups: ['it'] }))).toContain(
      'groupMap and adminGroups need attributes.groups',
    );
    expect(failure(withProviders([oidc], { usernameClaim: 'sub' }))).toContain('federation.usernameClaim');
  });
});

describe('attribute mapping', () => {
  it('fills custom:hubless_username and custom:groups under their full names (CDK writes custom keys as they are)', () => {
    const mapping = mappingFor(
      { type: 'oidc', attributes: { username: 'uid', groups: 'memberOf' } } as never,
      'custom:hubless_username',
    );
    expect(mapping.preferredUsername).toBeUndefined();
    expect(mapping.custom?.['custom:hubless_username']?.attributeName).toBe('uid');
    expect(mapping.custom?.['custom:groups']?.attributeName).toBe('memberOf');
  });
});

describe('identity providers on the user pool', () => {
  let synth: Synthesized;
  let t: Record<StackName, Template>;
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hubless-saml-'));
    const metadataFile = path.join(dir, 'university-idp.xml');
    writeFileSync(metadataFile, METADATA);
    const providers = federation.providers.map((p) => (p.type === 'saml' ? { ...p, metadataFile } : p));
    synth = await synthesize({
      nag: true,
      config: { ...TEST_STAGE_DEFAULTS, federation: { ...federation, providers } },
    });
    t = synth.templates;
    console.info(`[infra] synthesized with three identity providers in ${Math.round(synth.millis)} ms`);
  });

  it('adds the SAML provider with its metadata and maps username, e-mail and groups', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolIdentityProvider', {
      ProviderName: 'University',
      ProviderType: 'SAML',
      ProviderDetails: Match.objectLike({ MetadataFile: METADATA, IDPSignout: false }),
      AttributeMapping: {
        preferred_username: 'urn:oid:0.9.2342.19200300.100.1.1',
        email: 'urn:oid:0.9.2342.19200300.100.1.3',
        'custom:groups': 'urn:oid:1.3.6.1.4.1.5923.1.5.1.1',
      },
    });
  });

  it('adds the OIDC provider with its issuer and a client secret the template never holds', () => {
    const oidc = t.Identity.findResources('AWS::Cognito::UserPoolIdentityProvider', {
      Properties: { ProviderType: 'OIDC' },
    });
    const [props] = Object.values(oidc).map((r) => r.Properties);
    expect(props).toMatchObject({
      ProviderName: 'Keycloak',
      ProviderDetails: {
        client_id: 'hubless',
        oidc_issuer: 'https://login.uni.example/realms/students',
        authorize_scopes: 'openid email profile groups',
        attributes_request_method: 'GET',
      },
      AttributeMapping: {
        preferred_username: 'preferred_username',
        email: 'email',
        email_verified: 'email_verified',
        'custom:groups': 'groups',
      },
    });
    expect(JSON.stringify(props.ProviderDetails.client_secret)).toContain(
      '{{resolve:secretsmanager:hubless/keycloak-client-secret:SecretString:::}}',
    );
  });

  it('adds Google with its e-mail mapped and the secret from Secrets Manager', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPoolIdentityProvider', {
      ProviderName: 'Google',
      ProviderType: 'Google',
      ProviderDetails: Match.objectLike({
        client_id: 'abc.apps.googleusercontent.com',
        client_secret: '{{resolve:secretsmanager:hubless/google:SecretString:::}}',
      }),
      AttributeMapping: { email: 'email', email_verified: 'email_verified', preferred_username: 'email' },
    });
  });

  it('lets the ALB client sign in through every provider and Cognito’s own users, after they exist', () => {
    const clients = t.Identity.findResources('AWS::Cognito::UserPoolClient', {
      Properties: { ClientName: 'hubless-alb' },
    });
    const [client] = Object.values(clients);
    expect(client?.Properties.SupportedIdentityProviders).toEqual([
      'COGNITO',
      'University',
      'Keycloak',
      'Google',
    ]);
    const idps = Object.keys(t.Identity.findResources('AWS::Cognito::UserPoolIdentityProvider'));
    expect(idps).toHaveLength(3);
    expect(client?.DependsOn).toEqual(expect.arrayContaining(idps));
    // The LMS and admin clients stay on Cognito's own directory.
    for (const other of Object.values(t.Identity.findResources('AWS::Cognito::UserPoolClient')))
      if (other !== client) expect(other.Properties.SupportedIdentityProviders).toEqual(['COGNITO']);
  });

  it('gives the pool the custom attributes the providers fill', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPool', {
      Schema: Match.arrayWith([
        Match.objectLike({ Name: 'hubless_username', AttributeDataType: 'String', Mutable: true }),
        Match.objectLike({ Name: 'groups', AttributeDataType: 'String', Mutable: true }),
      ]),
    });
  });

  it('outputs what the IdP administrators need: SAML entity id and ACS URL, OIDC redirect URI', () => {
    const outputs = t.Identity.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.SamlEntityId?.Value)).toContain('urn:amazon:cognito:sp:');
    expect(JSON.stringify(outputs.SamlAcsUrl?.Value)).toContain('/saml2/idpresponse');
    expect(JSON.stringify(outputs.OidcRedirectUri?.Value)).toContain('/oauth2/idpresponse');
  });

  it('runs the sign-up trigger on the pool with the mapping policy, allowed only the pool calls it makes', () => {
    const pools = t.Identity.findResources('AWS::Cognito::UserPool');
    const [pool] = Object.values(pools);
    const trigger = pool?.Properties.LambdaConfig?.PreSignUp;
    const [fnId] = trigger['Fn::GetAtt'];
    const fn = t.Identity.toJSON().Resources[fnId];
    expect(fn.Type).toBe('AWS::Lambda::Function');
    const policy = JSON.parse(fn.Properties.Environment.Variables.HUBLESS_FEDERATION_POLICY);
    expect(policy).toEqual({
      usernameClaim: 'preferred_username',
      groupsClaim: 'custom:groups',
      groupMap: { 'cs101-staff': 'staff' },
      adminGroups: ['it-admins'],
      providers: ['University', 'Keycloak', 'Google'],
    });
    // The portal gets the same policy, to say why it refuses an unlinked identity.
    const portals = Object.values(t.Routing.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.Environment?.Variables?.HUBLESS_FEDERATION_POLICY,
    );
    expect(portals.length).toBeGreaterThan(0);
    for (const portal of portals)
      expect(JSON.parse(portal.Properties.Environment.Variables.HUBLESS_FEDERATION_POLICY)).toEqual(policy);
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(t.Identity.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      // SST's active tracing: the X-Ray writes every hubless Lambda has.
      .filter((statement) => !JSON.stringify(statement.Action).includes('xray:'));
    const poolId = Object.keys(pools)[0];
    expect(statements).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: expect.arrayContaining([
          'cognito-idp:AdminCreateUser',
          'cognito-idp:AdminLinkProviderForUser',
          'cognito-idp:AdminDeleteUser',
        ]),
        Resource: { 'Fn::GetAtt': [poolId, 'Arn'] },
      }),
    ]);
  });

  it('passes cdk-nag', () => {
    expect(Object.values(synth.errors).flat()).toEqual([]);
  });
});
