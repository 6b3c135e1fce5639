import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  AccountRecovery,
  CfnUserPoolGroup,
  FeaturePlan,
  Mfa,
  OAuthScope,
  ResourceServerScope,
  StandardThreatProtectionMode,
  StringAttribute,
  UserPool,
  UserPoolClientIdentityProvider,
  UserPoolEmail,
  UserPoolOperation,
} from 'aws-cdk-lib/aws-cognito';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { NagSuppressions } from 'cdk-nag';
import type { StackContext } from 'sst/constructs';
import { ADMIN_GROUP, ALB_AUTH, poolHost } from '../functions/adapters/aws/names.ts';
import { API_SCOPES, DEFAULT_RESOURCE_SERVER } from '../functions/core/api/scopes.ts';
import { useStageConfig } from './config.ts';
import { FEDERATION_ATTRIBUTES, federationPolicy, identityProviders } from './federation.ts';
import { hublessFunction } from './lambda.ts';

/** Where the admin client returns the authorization code: a tool listening on the admin's own machine. */
export const ADMIN_CLIENT_CALLBACK = 'http://localhost:8765/callback';

/**
 * Who may sign in: a Cognito user pool with the hosted login page (no self sign-up: an
 * admin or the LMS creates users), the app client the ALBs use for authenticate-cognito,
 * and one client-credentials client per LMS with the API scopes it was given.
 */
export function Identity({ stack, app }: StackContext) {
  const config = useStageConfig(app);

  const userPool = new UserPool(stack, 'Users', {
    selfSignUpEnabled: false,
    signInAliases: { username: true, email: true },
    signInCaseSensitive: false,
    standardAttributes: { email: { required: false, mutable: true } },
    // The default server profile an admin or LMS sets (functions/adapters/aws/cognito-directory.ts).
    customAttributes: {
      profile: new StringAttribute({ minLen: 1, maxLen: 32, mutable: true }),
      // What identity providers fill at each federated sign-in (stacks/federation.ts).
      ...(config.federation ? FEDERATION_ATTRIBUTES : {}),
    },
    passwordPolicy: {
      minLength: 12,
      requireLowercase: true,
      requireUppercase: true,
      requireDigits: true,
      requireSymbols: true,
      tempPasswordValidity: Duration.days(7),
    },
    mfa: Mfa.OPTIONAL,
    mfaSecondFactor: { otp: true, sms: false },
    accountRecovery: AccountRecovery.EMAIL_ONLY,
    featurePlan: config.threatProtection ? FeaturePlan.PLUS : FeaturePlan.ESSENTIALS,
    ...(config.threatProtection
      ? { standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION }
      : {}),
    deletionProtection: config.production,
    removalPolicy: config.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    // Invitations to a class go through SES: Cognito's own e-mail stops after 50 a day.
    ...(config.emailFrom
      ? {
          email: UserPoolEmail.withSES({
            fromEmail: config.emailFrom,
            fromName: 'hubless',
            sesRegion: stack.region,
          }),
        }
      : {}),
  });
  const suppressions = [
    {
      id: 'AwsSolutions-COG2',
      reason:
        'Classroom accounts: TOTP MFA is offered (optional) rather than required, so a lost phone never locks a student out mid-exam.',
    },
  ];
  if (!config.threatProtection) {
    suppressions.push({
      id: 'AwsSolutions-COG3',
      reason:
        'The operator set threatProtection=false in hubless.config.json to stay on the Essentials plan (threat protection needs Plus).',
    });
  }
  NagSuppressions.addResourceSuppressions(userPool, suppressions);

  new CfnUserPoolGroup(stack, 'AdminGroup', {
    userPoolId: userPool.userPoolId,
    groupName: ADMIN_GROUP,
    description: 'hubless administrators: manage users and every server',
  });

  const domain = userPool.addDomain('LoginDomain', {
    cognitoDomain: { domainPrefix: config.authDomainPrefix },
  });

  const idps = config.federation
    ? identityProviders(stack, userPool, config.federation, app.appPath)
    : { providers: [], clientProviders: [] };
  const localAccounts = config.federation?.localAccounts ?? true;
  const hosts = Array.from({ length: config.albPoolSize }, (_, i) => poolHost(config.domain, i));
  const albClient = userPool.addClient('AlbClient', {
    userPoolClientName: 'hubless-alb',
    generateSecret: true,
    // The school's providers sign students in on the same login page, next to (or instead of,
    // with federation.localAccounts false) Cognito's own users.
    supportedIdentityProviders: [
      ...(localAccounts ? [UserPoolClientIdentityProvider.COGNITO] : []),
      ...idps.clientProviders,
    ],
    oAuth: {
      flows: { authorizationCodeGrant: true },
      // Exactly what the ALBs ask for (portal rule and session rules alike).
      scopes: ALB_AUTH.scopes.map((scope) => OAuthScope.custom(scope)),
      // Every ALB of the pool completes the login on its own host name.
      callbackUrls: hosts.map((host) => `https://${host}/oauth2/idpresponse`),
      logoutUrls: [`https://${config.domain}/`],
    },
    preventUserExistenceErrors: true,
    accessTokenValidity: Duration.hours(1),
    idTokenValidity: Duration.hours(1),
    refreshTokenValidity: Duration.days(1),
  });

  // The client names the providers, so they must exist before it (CDK does not infer this).
  for (const provider of idps.providers) albClient.node.addDependency(provider);

  // A federated person's first sign-in: map the identity to a hubless name and link it to
  // that native user (functions/handlers/federated-sign-up.ts, docs/architecture.md).
  if (config.federation) {
    const signUp = hublessFunction(stack, 'FederatedSignUp', {
      handler: 'federated-sign-up',
      config,
      // Cognito waits 5 s for a trigger.
      timeout: Duration.seconds(5),
      environment: {
        HUBLESS_STAGE: app.stage,
        HUBLESS_FEDERATION_POLICY: JSON.stringify(federationPolicy(config.federation)),
      },
    });
    userPool.addTrigger(UserPoolOperation.PRE_SIGN_UP, signUp);
    NagSuppressions.addResourceSuppressions(
      signUp,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'The role’s default policy holds only the X-Ray trace writes every hubless Lambda has (SST turns on active tracing); xray:PutTraceSegments and PutTelemetryRecords support no resource-level permissions. Its Cognito calls are in FederatedSignUpPolicy, on the user pool only.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
    // A policy of its own rather than the role's default one: the pool names the function,
    // so the function must not depend on a statement that names the pool.
    new Policy(stack, 'FederatedSignUpPolicy', {
      roles: signUp.role ? [signUp.role] : [],
      statements: [
        new PolicyStatement({
          actions: [
            'cognito-idp:AdminGetUser',
            'cognito-idp:AdminCreateUser',
            'cognito-idp:AdminLinkProviderForUser',
            'cognito-idp:AdminDeleteUser',
            'cognito-idp:AdminSetUserPassword',
            'cognito-idp:AdminListGroupsForUser',
            'cognito-idp:AdminAddUserToGroup',
            'cognito-idp:AdminRemoveUserFromGroup',
            'cognito-idp:CreateGroup',
          ],
          resources: [userPool.userPoolArn],
        }),
      ],
    });
  }

  const scopes = Object.fromEntries(
    API_SCOPES.map((name) => [
      name,
      new ResourceServerScope({ scopeName: name, scopeDescription: `hubless API: ${name}` }),
    ]),
  ) as Record<(typeof API_SCOPES)[number], ResourceServerScope>;
  const resourceServer = userPool.addResourceServer('Api', {
    // Scopes read `hubless/<scope>`; the API handler strips the prefix.
    identifier: DEFAULT_RESOURCE_SERVER,
    userPoolResourceServerName: 'hubless API',
    scopes: Object.values(scopes),
  });

  const lmsClients = config.lmsClients.map((lms) => {
    const client = userPool.addClient(`Lms-${lms.name}`, {
      userPoolClientName: `lms-${lms.name}`,
      generateSecret: true,
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      oAuth: {
        flows: { clientCredentials: true },
        scopes: lms.scopes.map((scope) => OAuthScope.resourceServer(resourceServer, scopes[scope])),
      },
      accessTokenValidity: Duration.hours(1),
    });
    return { name: lms.name, client };
  });

  // Administrators call the APIs with tokens of this client only (authorization code with
  // PKCE from a script or tool on their machine), never with the ALB's: every lab sees the
  // ALB client's access token of whoever visits it (x-amzn-oidc-accesstoken).
  const adminClient = userPool.addClient('AdminClient', {
    userPoolClientName: 'hubless-admin',
    generateSecret: false,
    supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
    oAuth: {
      flows: { authorizationCodeGrant: true },
      scopes: [OAuthScope.OPENID],
      callbackUrls: [ADMIN_CLIENT_CALLBACK],
    },
    preventUserExistenceErrors: true,
    accessTokenValidity: Duration.hours(1),
    idTokenValidity: Duration.hours(1),
    refreshTokenValidity: Duration.hours(12),
  });

  stack.addOutputs({
    UserPoolId: userPool.userPoolId,
    AdminClient: adminClient.userPoolClientId,
    // A host name: the token URL is https://<LoginDomain>/oauth2/token.
    LoginDomain: `${domain.domainName}.auth.${stack.region}.amazoncognito.com`,
    // What a school's identity provider needs to know about hubless (README "Sign in with the school's account").
    ...(config.federation
      ? {
          SamlEntityId: `urn:amazon:cognito:sp:${userPool.userPoolId}`,
          SamlAcsUrl: `https://${domain.domainName}.auth.${stack.region}.amazoncognito.com/saml2/idpresponse`,
          OidcRedirectUri: `https://${domain.domainName}.auth.${stack.region}.amazoncognito.com/oauth2/idpresponse`,
        }
      : {}),
    ...Object.fromEntries(
      lmsClients.map(({ name, client }) => [
        `LmsClient${name.replace(/[^a-zA-Z0-9]/g, '')}`,
        client.userPoolClientId,
      ]),
    ),
  });

  return {
    userPool,
    domain,
    albClient,
    adminClient,
    resourceServer,
    lmsClients,
    hosts,
    identityProviders: idps.providers,
  };
}
