import * as z from 'zod';
import { ConfigError } from './errors.ts';
import { type FederationPolicy, USERNAME_CLAIMS } from './federation.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';
import type { Profile } from './ports.ts';

/**
 * Settings, parsed once per process from HUBLESS_* environment variables (Powertools'
 * envUtils pattern). A bad or missing value stops start-up with a message naming the
 * variable, what it got and what is allowed.
 */
/**
 * Named servers each user may run beside the default one (JupyterHub's
 * named_server_limit_per_user; JupyterHub has no default, hubless pays per server). The
 * one range for HUBLESS_NAMED_SERVER_LIMIT and a stage's `namedServerLimit`.
 */
export const NAMED_SERVER_LIMIT = { default: 3, max: 100 } as const;

const seconds = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);

/**
 * A server profile, the one schema for both places profiles are written: HUBLESS_PROFILES
 * here, and a stage's `profiles` in hubless.config.json (stacks/config.ts extends this
 * with Fargate's sizes), so a profile the stacks accept is one every handler accepts.
 * The name becomes a Cognito attribute value (at most 32 characters) and a form value.
 */
export const profileSchema = z.object({
  name: z
    .string()
    .regex(
      /^[a-z][a-z0-9-]{0,31}$/,
      'must start with a letter and be 1-32 characters of a-z, 0-9 and "-" (profile names)',
    ),
  description: z.string().default(''),
  cpu: z.number().int().positive().default(1024),
  memory: z.number().int().positive().default(2048),
  /** An image reference; absent means the lab image. */
  image: z.string().min(1).optional(),
  spot: z.boolean().default(false),
  /** Empty: everyone. Otherwise the user must be in one of these groups. */
  groups: z.array(z.string().min(1)).default([]),
});

/**
 * Profiles written as JSON text (the environment in local mode, the deployment's
 * configuration item on AWS): one parser, so both refuse a bad list with the same words.
 */
export function parseProfilesJson(text: string, ctx: z.RefinementCtx): Profile[] {
  try {
    return z.array(profileSchema).min(1).parse(JSON.parse(text)) as Profile[];
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `must be a JSON array of profiles (${(error as Error).message})`,
    });
    return z.NEVER;
  }
}

export const DEFAULT_PROFILES: Profile[] = [
  { name: 'standard', description: '1 vCPU, 2 GiB', cpu: 1024, memory: 2048, spot: false, groups: [] },
];

const envSchema = z.object({
  HUBLESS_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  HUBLESS_TABLE_NAME: z.string().min(3).default('hubless'),
  HUBLESS_IDLE_TIMEOUT_SECONDS: seconds(3600, 60),
  HUBLESS_CULL_EVERY_SECONDS: seconds(60, 5),
  HUBLESS_MAX_AGE_SECONDS: seconds(0),
  HUBLESS_START_TIMEOUT_SECONDS: seconds(180, 10),
  HUBLESS_NAMED_SERVER_LIMIT: z.coerce
    .number()
    .int()
    .min(0)
    .max(NAMED_SERVER_LIMIT.max)
    .default(NAMED_SERVER_LIMIT.default),
  HUBLESS_PROFILES: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text) return DEFAULT_PROFILES;
      return parseProfilesJson(text, ctx);
    }),
  // Local mode
  HUBLESS_PORT: z.coerce.number().int().min(1).max(65535).default(8000),
  HUBLESS_HOST: z.string().default('127.0.0.1'),
  HUBLESS_PUBLIC_URL: z.url().optional(),
  HUBLESS_DATA_DIR: z.string().min(1).default('.hubless'),
  HUBLESS_HOMES_DIR: z.string().min(1).optional(),
  HUBLESS_MAX_SERVERS: z.coerce.number().int().min(1).default(200),
  HUBLESS_SHARED_DATA: z.enum(['true', 'false']).default('true'),
  HUBLESS_TLS_CERT: z.string().min(1).optional(),
  HUBLESS_TLS_KEY: z.string().min(1).optional(),
  // Local mode's optional upstream OpenID provider (the school's); unset: the embedded provider.
  HUBLESS_OIDC_ISSUER: z.url().optional(),
  HUBLESS_OIDC_CLIENT_ID: z.string().min(1).optional(),
  HUBLESS_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  HUBLESS_OIDC_SCOPES: z.string().min(1).default('openid email profile'),
  HUBLESS_OIDC_USERNAME_CLAIM: z.enum(USERNAME_CLAIMS).default('preferred_username'),
  HUBLESS_OIDC_GROUPS_CLAIM: z.string().min(1).optional(),
  HUBLESS_OIDC_ADMIN_GROUPS: z.string().optional(),
  HUBLESS_OIDC_GROUP_MAP: z.string().optional(),
  // AWS mode: how users of the user pool's identity providers become hubless users
  // (stacks/config.ts `federation`, as JSON); unset: no identity providers.
  HUBLESS_FEDERATION_POLICY: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text) return undefined;
      try {
        return federationPolicySchema.parse(JSON.parse(text)) as FederationPolicy;
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a JSON federation policy such as {"usernameClaim":"preferred_username"} (${(error as Error).message})`,
        });
        return z.NEVER;
      }
    }),
});

const federationPolicySchema = z
  .object({
    usernameClaim: z.enum(USERNAME_CLAIMS),
    groupsClaim: z.string().min(1).optional(),
    groupMap: z.record(z.string(), z.string()).optional(),
    adminGroups: z.array(z.string()).optional(),
    providers: z.array(z.string()).optional(),
  })
  .strict();

/** The three variables that switch local mode to an upstream provider; all or none. */
const UPSTREAM_REQUIRED = [
  'HUBLESS_OIDC_ISSUER',
  'HUBLESS_OIDC_CLIENT_ID',
  'HUBLESS_OIDC_CLIENT_SECRET',
] as const;

/** "provider-group=hubless-group,..." (HUBLESS_OIDC_GROUP_MAP): one pair per comma. */
export function parseGroupMap(text: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = pair.lastIndexOf('=');
    const theirs = pair.slice(0, at).trim();
    const ours = pair.slice(at + 1).trim();
    if (at <= 0 || !theirs || !ours) {
      throw new Error(`"${pair}" is not "provider-group=hubless-group"`);
    }
    map[theirs] = ours;
  }
  return map;
}

function commaList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** The variables core reads (the AWS ones are in adapters/aws/names.ts). */
export type SettingsEnvName = keyof z.input<typeof envSchema>;

export interface Settings {
  /** Lines below this level are not logged. */
  logLevel: LogLevel;
  tableName: string;
  idleTimeoutSeconds: number;
  cullEverySeconds: number;
  /** 0 means no limit. */
  maxAgeSeconds: number;
  startTimeoutSeconds: number;
  /** Named servers each user may have running besides the default one; 0 turns named servers off. */
  namedServerLimit: number;
  profiles: Profile[];
  /**
   * AWS mode: the mapping for users of the user pool's identity providers (HUBLESS_FEDERATION_POLICY,
   * set by the stacks from hubless.config.json `federation`); absent: no identity providers.
   */
  federation?: FederationPolicy;
  local: {
    port: number;
    host: string;
    publicUrl: string;
    dataDir: string;
    /**
     * The users' homes: beside the data dir, not in it (default `<dataDir>-homes`), because
     * a lab running as its own account must reach its home but never the data dir.
     */
    homesDir: string;
    maxServers: number;
    /** Whether labs get the class's shared data folder (core/shared-data.ts): HUBLESS_SHARED_DATA. */
    sharedData: boolean;
    /** PEM files of the gateway's certificate chain and key; absent with an https URL: self-signed. */
    tlsCert?: string;
    tlsKey?: string;
    /** Browsers sign in at this OpenID provider instead of the embedded one (core/federation.ts). */
    upstream?: UpstreamProvider;
  };
}

export interface UpstreamProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  policy: FederationPolicy;
}

export function parseSettings(env: Record<string, string | undefined>): Settings {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'configuration');
      const got = env[name] === undefined ? 'unset' : JSON.stringify(env[name]);
      return `${name} (got ${got}): ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const value = result.data;
  const upstream = upstreamOf(value, env);
  return {
    logLevel: value.HUBLESS_LOG_LEVEL,
    tableName: value.HUBLESS_TABLE_NAME,
    idleTimeoutSeconds: value.HUBLESS_IDLE_TIMEOUT_SECONDS,
    cullEverySeconds: value.HUBLESS_CULL_EVERY_SECONDS,
    maxAgeSeconds: value.HUBLESS_MAX_AGE_SECONDS,
    startTimeoutSeconds: value.HUBLESS_START_TIMEOUT_SECONDS,
    namedServerLimit: value.HUBLESS_NAMED_SERVER_LIMIT,
    profiles: value.HUBLESS_PROFILES,
    ...(value.HUBLESS_FEDERATION_POLICY ? { federation: value.HUBLESS_FEDERATION_POLICY } : {}),
    local: {
      port: value.HUBLESS_PORT,
      host: value.HUBLESS_HOST,
      publicUrl: (value.HUBLESS_PUBLIC_URL ?? `http://localhost:${value.HUBLESS_PORT}`).replace(/\/$/, ''),
      dataDir: value.HUBLESS_DATA_DIR,
      homesDir: value.HUBLESS_HOMES_DIR ?? `${value.HUBLESS_DATA_DIR.replace(/\/+$/, '')}-homes`,
      maxServers: value.HUBLESS_MAX_SERVERS,
      sharedData: value.HUBLESS_SHARED_DATA === 'true',
      ...(value.HUBLESS_TLS_CERT ? { tlsCert: value.HUBLESS_TLS_CERT } : {}),
      ...(value.HUBLESS_TLS_KEY ? { tlsKey: value.HUBLESS_TLS_KEY } : {}),
      ...(upstream ? { upstream } : {}),
    },
  };
}

function upstreamOf(
  value: z.output<typeof envSchema>,
  env: Record<string, string | undefined>,
): UpstreamProvider | undefined {
  const missing = UPSTREAM_REQUIRED.filter((name) => !value[name]);
  if (missing.length === UPSTREAM_REQUIRED.length) return undefined;
  if (missing.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n  ${missing.join(', ')} (unset): an upstream OpenID provider needs ` +
        `${UPSTREAM_REQUIRED.join(', ')} together; unset all three to use the embedded provider.`,
    );
  }
  let groupMap: Record<string, string> | undefined;
  try {
    groupMap = value.HUBLESS_OIDC_GROUP_MAP ? parseGroupMap(value.HUBLESS_OIDC_GROUP_MAP) : undefined;
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration:\n  HUBLESS_OIDC_GROUP_MAP (got ${JSON.stringify(env.HUBLESS_OIDC_GROUP_MAP)}): ` +
        `${(error as Error).message}; write it as "staff=teachers,it-admins=admins".`,
    );
  }
  const adminGroups = commaList(value.HUBLESS_OIDC_ADMIN_GROUPS);
  if ((groupMap || adminGroups.length) && !value.HUBLESS_OIDC_GROUPS_CLAIM) {
    throw new ConfigError(
      'Invalid configuration:\n  HUBLESS_OIDC_GROUPS_CLAIM (unset): HUBLESS_OIDC_GROUP_MAP and ' +
        'HUBLESS_OIDC_ADMIN_GROUPS need the claim that holds the groups, for example "groups".',
    );
  }
  const policy: FederationPolicy = {
    usernameClaim: value.HUBLESS_OIDC_USERNAME_CLAIM,
    ...(value.HUBLESS_OIDC_GROUPS_CLAIM ? { groupsClaim: value.HUBLESS_OIDC_GROUPS_CLAIM } : {}),
    ...(groupMap ? { groupMap } : {}),
    ...(adminGroups.length ? { adminGroups } : {}),
  };
  return {
    issuer: value.HUBLESS_OIDC_ISSUER as string,
    clientId: value.HUBLESS_OIDC_CLIENT_ID as string,
    clientSecret: value.HUBLESS_OIDC_CLIENT_SECRET as string,
    scopes: value.HUBLESS_OIDC_SCOPES,
    policy,
  };
}

/**
 * The log level alone, for the logger that must exist before the rest of the settings
 * parse (it reports their errors): a bad value falls back to info here and is refused,
 * named, by parseSettings.
 */
export function logLevelOf(env: Record<string, string | undefined>): LogLevel {
  const level = env.HUBLESS_LOG_LEVEL;
  return (LOG_LEVELS as readonly string[]).includes(level ?? '') ? (level as LogLevel) : 'info';
}
