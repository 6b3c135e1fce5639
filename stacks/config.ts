import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { App } from 'sst/constructs';
import { z } from 'zod';
import { DEFAULT_ALB_RULES_QUOTA } from '../functions/adapters/aws/alb-slots.ts';
import { API_SCOPES } from '../functions/core/api/scopes.ts';
import { NAMED_SERVER_LIMIT, profileSchema } from '../functions/core/config.ts';
import { USERNAME_CLAIMS } from '../functions/core/federation.ts';

/**
 * The stage configuration: everything an operator chooses per stage, validated in one
 * place before any resource exists. Read from `hubless.config.json` (one key per stage);
 * the `test` stage falls back to built-in defaults so the infra tests need no file.
 * A bad value fails synthesis with an Error that names the field path and what is allowed.
 */

/** The file operators edit, at the project root. */
export const CONFIG_FILE = 'hubless.config.json';
/** CDK context key that replaces the file (tests inject a raw stage config here). */
export const CONFIG_CONTEXT_KEY = 'hubless:config';

/** CloudWatch Logs accepts only these retention periods (days). */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/**
 * Fargate task sizes: cpu units -> allowed memory (MiB). Anything else is refused by
 * RegisterTaskDefinition at the first start, so we refuse it at synthesis instead.
 */
export const FARGATE_MEMORY: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let v = from; v <= to; v += step) values.push(v);
  return values;
}

/**
 * The default "Application Load Balancers per Region" quota: the pool may hold up to the
 * account's quota (albQuota), since it travels in the deployment's configuration item,
 * not in the Lambdas' 4 KB environment.
 */
export const DEFAULT_ALB_QUOTA = 50;

/**
 * Bounds on what the stage gives every Lambda (the profiles in the configuration item, the
 * LMS clients' ids in the API's environment), so that the largest configuration accepted
 * here still fits Lambda's 4 KB: test/aws-checks/limits.test.ts synthesizes that
 * configuration and measures it.
 * The domain is also the certificate's name, which ACM caps at 64 characters.
 */
export const LIMITS = {
  domainLength: 64,
  profiles: 4,
  profileNameLength: 32,
  profileDescriptionLength: 80,
  profileImageLength: 80,
  profileGroups: 2,
  groupNameLength: 32,
  /** Each LMS client's id is in the API function's environment (HUBLESS_API_CLIENT_IDS). */
  lmsClients: 4,
  /** Identity providers on the user pool (Cognito's own quota is 300). */
  identityProviders: 8,
} as const;

const hostname = z
  .string()
  .max(
    LIMITS.domainLength,
    `must be at most ${LIMITS.domainLength} characters (ACM's limit for a certificate's name)`,
  )
  .regex(
    /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'must be a lower-case DNS name such as "labs.example.edu"',
  );

/**
 * A profile in a stage: core's profile (functions/core/config.ts, the one the Lambdas
 * parse from HUBLESS_PROFILES, so a name the stacks accept is one every cold start
 * accepts), chosen on purpose here: a description and a Fargate size (checked below),
 * no defaults; within LIMITS (the start page lists every profile a user may choose).
 */
const stageProfileSchema = profileSchema.extend({
  description: z.string().min(1).max(LIMITS.profileDescriptionLength),
  cpu: z.number().int(),
  memory: z.number().int(),
  image: z.string().min(1).max(LIMITS.profileImageLength).optional(),
  groups: z.array(z.string().min(1).max(LIMITS.groupNameLength)).max(LIMITS.profileGroups).default([]),
});

const lmsClientSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9 and "-"'),
  scopes: z.array(z.enum(API_SCOPES)).min(1),
});

/**
 * Which provider attribute (SAML attribute name, OIDC or Google claim) fills each Cognito
 * attribute hubless reads: the username (into the Cognito attribute named by
 * federation.usernameClaim), the e-mail, and the groups (into custom:groups).
 */
const providerAttributesSchema = z
  .object({
    username: z.string().min(1).max(256).optional(),
    email: z.string().min(1).max(256).optional(),
    groups: z.string().min(1).max(256).optional(),
  })
  .strict();

/**
 * Cognito provider names: 3-32 characters, not "Cognito" or "Google" (reserved), and no
 * underscore: Cognito names each federated user "<provider>_<id>", and the sign-up trigger
 * (functions/core/federation.ts) splits that at the first underscore.
 */
const providerName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{2,31}$/, 'must be 3-32 characters of A-Z, a-z, 0-9, "." and "-"')
  .refine((name) => !/^(cognito|google|facebook|loginwithamazon|signinwithapple)$/i.test(name), {
    message: 'is a name Cognito reserves; choose another, such as "University"',
  });

/** A Secrets Manager secret (name or ARN) holding a client secret: it never enters the template. */
const secretName = z
  .string()
  .regex(/^[A-Za-z0-9/_+=.@:-]{1,512}$/, 'must be a Secrets Manager secret name or ARN');

const samlProviderSchema = z
  .object({
    type: z.literal('saml'),
    name: providerName,
    /** Where Cognito fetches the IdP's metadata (kept current), or the metadata XML file next to hubless.config.json. */
    metadataUrl: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).optional(),
    metadataFile: z.string().min(1).optional(),
    attributes: providerAttributesSchema.default({}),
    /** Sign out of the IdP too when a user signs out of hubless (the IdP must support SAML single logout). */
    idpSignout: z.boolean().default(false),
  })
  .strict();

const oidcProviderSchema = z
  .object({
    type: z.literal('oidc'),
    name: providerName,
    issuer: z.url({ protocol: /^https$/, error: 'must be the https:// issuer URL of the provider' }),
    clientId: z.string().min(1).max(256),
    clientSecretName: secretName,
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
      .min(1)
      .default(['openid', 'email', 'profile']),
    attributes: providerAttributesSchema.default({}),
  })
  .strict();

const googleProviderSchema = z
  .object({
    type: z.literal('google'),
    clientId: z.string().min(1).max(256),
    clientSecretName: secretName,
    attributes: providerAttributesSchema.default({}),
  })
  .strict();

/**
 * Sign-in through the school's identity providers (README "Sign in with the school's
 * account"): the providers on the user pool, and how their users become hubless users
 * (functions/core/federation.ts).
 */
const federationSchema = z
  .object({
    usernameClaim: z.enum(USERNAME_CLAIMS).default('preferred_username'),
    /** Provider group -> hubless group; only these count when set. */
    groupMap: z.record(z.string().min(1).max(256), z.string().min(1).max(LIMITS.groupNameLength)).optional(),
    /** Provider groups whose members are hubless administrators. */
    adminGroups: z.array(z.string().min(1).max(256)).default([]),
    /** Keep Cognito's own user directory on the login page (administrators, LMS-created users). */
    localAccounts: z.boolean().default(true),
    providers: z
      .array(z.discriminatedUnion('type', [samlProviderSchema, oidcProviderSchema, googleProviderSchema]))
      .min(1)
      .max(LIMITS.identityProviders),
  })
  .strict();

export const stageConfigSchema = z
  .object({
    /** Browser entry point: https://<domain>/. ALB i > 0 of the pool answers at poolHost(domain, i). */
    domain: hostname,
    /** An ACM certificate in the deployment region covering <domain> and *.<domain>. */
    certificateArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/,
        'must be an ACM certificate ARN',
      )
      .optional(),
    /** Or a Route 53 zone hubless may write to: it issues the certificate and the DNS records. */
    hostedZone: z
      .object({
        zoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, 'must be a Route 53 zone id'),
        zoneName: hostname,
      })
      .strict()
      .optional(),
    /**
     * ALBs in the pool; each holds 49 live sessions (see albRulesQuota). At most albQuota:
     * the pool is in the deployment's configuration item (a DynamoDB item), so its size is
     * bounded by the account, not by Lambda's 4 KB environment.
     */
    albPoolSize: z.number().int().min(1).default(1),
    /**
     * The account's "Application Load Balancers per Region" quota (50 by default; raise it
     * in Service Quotas first). Other load balancers of the account count against it too.
     */
    albQuota: z.number().int().min(1).max(1000).default(DEFAULT_ALB_QUOTA),
    /**
     * The account's quota of listener rules per ALB ("Rules per Application Load
     * Balancer", 100 by default). Each session takes two rules (its pages, and its API
     * answering 401 once the sign-in has ended), so a balancer holds 49 sessions at 100;
     * with the quota raised to 191 or more, 95 (its target groups' limit).
     */
    albRulesQuota: z.number().int().min(DEFAULT_ALB_RULES_QUOTA).max(1000).default(DEFAULT_ALB_RULES_QUOTA),
    /**
     * How labs reach the internet (images, packages, git). "public" (the default): labs sit
     * in public subnets with a public IP and a security group that admits only the
     * balancers and the activity probe, so no NAT gateway runs around the clock.
     * "private-nat": labs in private subnets behind NAT gateways (natGateways of them), for
     * sites whose policy forbids public addresses on workloads.
     */
    labNetwork: z.enum(['public', 'private-nat']).default('public'),
    /** NAT gateways (1 or 2 AZs) when labNetwork is "private-nat"; unused otherwise. */
    natGateways: z.number().int().min(1).max(2).default(1),
    /** CPU architecture of the lab image and tasks. */
    labArchitecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
    profiles: z
      .array(stageProfileSchema)
      .min(1)
      .max(LIMITS.profiles, `at most ${LIMITS.profiles} profiles`)
      .default([
        { name: 'small', description: '0.5 vCPU, 2 GiB', cpu: 512, memory: 2048, spot: false, groups: [] },
      ]),
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(300)
      .max(7 * 86_400)
      .default(3600),
    /** 0: no age limit. */
    maxAgeSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(8 * 3600),
    cullEveryMinutes: z.number().int().min(1).max(60).default(5),
    /** Named servers each user may run beside the default one; 0 turns named servers off. */
    namedServerLimit: z.number().int().min(0).max(NAMED_SERVER_LIMIT.max).default(NAMED_SERVER_LIMIT.default),
    /**
     * A shared folder on the homes' file system, mounted read-only in every lab at
     * /home/jovyan/shared and read-write at /home/jovyan/shared-write in the labs of
     * course admins (core/shared-data.ts). false: no shared folder.
     */
    sharedData: z.boolean().default(true),
    lmsClients: z
      .array(lmsClientSchema)
      .max(
        LIMITS.lmsClients,
        `at most ${LIMITS.lmsClients} clients: their ids travel in the API function's environment`,
      )
      .default([]),
    retentionDays: z
      .number()
      .int()
      .refine(
        (d) => (RETENTION_DAYS as readonly number[]).includes(d),
        `must be one of ${RETENTION_DAYS.join(', ')}`,
      )
      .default(30),
    /**
     * Send invitations through Amazon SES from this address (verified in SES in the deploy
     * region). Unset: Cognito's own e-mail, at most 50 messages a day.
     */
    emailFrom: z.email().optional(),
    /** Cognito Plus plan with threat protection (about $0.02 per monthly active user). */
    threatProtection: z.boolean().default(true),
    /** Cognito hosted UI prefix (<prefix>.auth.<region>.amazoncognito.com); globally unique per region. */
    authDomainPrefix: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'must be 1-63 characters of a-z, 0-9 and "-"')
      .refine((p) => !/aws|amazon|cognito/.test(p), 'must not contain "aws", "amazon" or "cognito"')
      .optional(),
    /** Production: deletion protection and RETAIN on the table and file system. Default: stage is prod or production. */
    production: z.boolean().optional(),
    /** SAML, OIDC and Google sign-in on the user pool; absent: Cognito's own users only. */
    federation: federationSchema.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.albPoolSize > config.albQuota)
      ctx.addIssue({
        code: 'custom',
        path: ['albPoolSize'],
        message: `must be at most albQuota (${config.albQuota}), the account's quota of Application Load Balancers per Region: request a higher quota in Service Quotas and raise albQuota, or use fewer balancers`,
      });
    if (Boolean(config.certificateArn) === Boolean(config.hostedZone)) {
      ctx.addIssue({
        code: 'custom',
        path: ['certificateArn'],
        message: 'set exactly one of certificateArn or hostedZone',
      });
    }
    if (
      config.hostedZone &&
      config.domain !== config.hostedZone.zoneName &&
      !config.domain.endsWith(`.${config.hostedZone.zoneName}`)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['hostedZone', 'zoneName'],
        message: `must be "${config.domain}" or a parent of it`,
      });
    }
    const seen = new Set<string>();
    config.profiles.forEach((profile, i) => {
      // ECS developer guide, "Fargate capacity providers": Linux tasks with the ARM64
      // architecture don't support Fargate Spot; every start of such a profile would fail.
      if (profile.spot && config.labArchitecture === 'arm64') {
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', i, 'spot'],
          message:
            'Fargate Spot does not run ARM64 tasks, and labArchitecture is "arm64": set spot to false for this profile, or labArchitecture to "x86_64"',
        });
      }
      const memory = FARGATE_MEMORY[profile.cpu];
      if (!memory) {
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', i, 'cpu'],
          message: `must be a Fargate cpu value: ${Object.keys(FARGATE_MEMORY).join(', ')}`,
        });
      } else if (!memory.includes(profile.memory)) {
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', i, 'memory'],
          message: `is not a Fargate size for cpu ${profile.cpu}; allowed: ${memory.join(', ')} MiB`,
        });
      }
      if (seen.has(profile.name))
        ctx.addIssue({
          code: 'custom',
          path: ['profiles', i, 'name'],
          message: `duplicates profile "${profile.name}"`,
        });
      seen.add(profile.name);
    });
    if (config.federation) checkFederation(config.federation, ctx);
    const clients = new Set<string>();
    config.lmsClients.forEach((client, i) => {
      if (clients.has(client.name))
        ctx.addIssue({
          code: 'custom',
          path: ['lmsClients', i, 'name'],
          message: `duplicates client "${client.name}"`,
        });
      clients.add(client.name);
    });
  });

/**
 * What the schema alone cannot say: each provider must release the attribute the username
 * is read from, the groups map needs a groups attribute, names are unique, and a SAML
 * provider has exactly one metadata source.
 */
function checkFederation(federation: z.output<typeof federationSchema>, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  const grouped = federation.providers.some((provider) => provider.attributes.groups);
  federation.providers.forEach((provider, i) => {
    const at = (...path: (string | number)[]) => ['federation', 'providers', i, ...path];
    const name = provider.type === 'google' ? 'Google' : provider.name;
    if (names.has(name))
      ctx.addIssue({ code: 'custom', path: at('name'), message: `duplicates provider "${name}"` });
    names.add(name);
    if (provider.type === 'saml' && Boolean(provider.metadataUrl) === Boolean(provider.metadataFile)) {
      ctx.addIssue({
        code: 'custom',
        path: at('metadataUrl'),
        message: 'set exactly one of metadataUrl or metadataFile (the IdP metadata XML)',
      });
    }
    const { username, email } = provider.attributes;
    if (federation.usernameClaim === 'email') {
      if (username)
        ctx.addIssue({
          code: 'custom',
          path: at('attributes', 'username'),
          message:
            'usernameClaim is "email": the username comes from attributes.email; remove attributes.username',
        });
      if (provider.type === 'saml' && !email)
        ctx.addIssue({
          code: 'custom',
          path: at('attributes', 'email'),
          message: 'usernameClaim is "email": name the SAML attribute holding the e-mail address',
        });
    } else if (!username && provider.type !== 'oidc') {
      ctx.addIssue({
        code: 'custom',
        path: at('attributes', 'username'),
        message:
          provider.type === 'google'
            ? `Google releases no ${federation.usernameClaim}: set federation.usernameClaim to "email", or attributes.username to "email"`
            : `name the SAML attribute that holds the username (for example "uid" or "urn:oid:0.9.2342.19200300.100.1.1"); it fills ${federation.usernameClaim}`,
      });
    }
  });
  if ((federation.groupMap || federation.adminGroups.length > 0) && !grouped) {
    ctx.addIssue({
      code: 'custom',
      path: ['federation', 'providers'],
      message:
        'groupMap and adminGroups need attributes.groups on at least one provider (the attribute holding its groups)',
    });
  }
}

export type StageConfig = z.output<typeof stageConfigSchema> & {
  production: boolean;
  authDomainPrefix: string;
};
export type StageProfile = StageConfig['profiles'][number];

/** The `test` stage's configuration when the file has none: what the infra tests synthesize. */
export const TEST_STAGE_DEFAULTS = {
  domain: 'labs.example.edu',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000',
  albPoolSize: 2,
  profiles: [
    { name: 'small', description: '0.5 vCPU, 2 GiB', cpu: 512, memory: 2048, spot: true, groups: [] },
    { name: 'large', description: '2 vCPU, 8 GiB', cpu: 2048, memory: 8192, spot: false, groups: ['staff'] },
  ],
  lmsClients: [
    { name: 'moodle', scopes: ['servers:read', 'servers:write', 'launch', 'users:read', 'users:write'] },
  ],
} as const;

/**
 * Validates one stage's raw configuration. Throws an Error listing every bad field as
 * `<path>: <what is allowed>`, prefixed with where the value came from.
 */
export function parseStageConfig(raw: unknown, stage: string, source = CONFIG_FILE): StageConfig {
  const result = stageConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map(
      (issue) => `  - ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`,
    );
    throw new Error(`Invalid hubless configuration for stage "${stage}" (${source}):\n${lines.join('\n')}`);
  }
  const config = result.data;
  return {
    ...config,
    production: config.production ?? ['prod', 'production'].includes(stage),
    authDomainPrefix: config.authDomainPrefix ?? defaultAuthDomainPrefix(config.domain, stage),
  };
}

function defaultAuthDomainPrefix(domain: string, stage: string): string {
  const prefix = `${stage}-${domain}`.replace(/[^a-z0-9]+/g, '-').replace(/aws|amazon|cognito/g, 'x');
  return prefix.slice(0, 63).replace(/-+$/, '');
}

/** Reads the stage's raw configuration from the file; the test stage may omit it. */
export function readStageConfig(root: string, stage: string): { raw: unknown; source: string } {
  const file = path.join(root, CONFIG_FILE);
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`${CONFIG_FILE} is not valid JSON: ${(error as Error).message}`);
    }
    if (parsed && typeof parsed === 'object' && stage in parsed) {
      return { raw: (parsed as Record<string, unknown>)[stage], source: `${CONFIG_FILE} key "${stage}"` };
    }
  }
  if (stage === 'test') return { raw: TEST_STAGE_DEFAULTS, source: 'test stage defaults' };
  throw new Error(
    `No configuration for stage "${stage}": add a "${stage}" key to ${CONFIG_FILE} (see "Deploy to AWS" in README.md)`,
  );
}

const cache = new WeakMap<App, StageConfig>();

/**
 * The validated configuration of the app's stage, parsed once per app. Tests set the
 * `hubless:config` context to a raw object instead of writing the file.
 */
export function useStageConfig(app: App): StageConfig {
  const cached = cache.get(app);
  if (cached) return cached;
  const injected: unknown = app.node.tryGetContext(CONFIG_CONTEXT_KEY);
  const { raw, source } =
    injected !== undefined
      ? { raw: injected, source: `context "${CONFIG_CONTEXT_KEY}"` }
      : readStageConfig(app.appPath, app.stage);
  const config = parseStageConfig(raw, app.stage, source);
  cache.set(app, config);
  return config;
}
