import * as z from 'zod';
import { ConfigError } from './errors.ts';
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
      try {
        return z.array(profileSchema).min(1).parse(JSON.parse(text)) as Profile[];
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a JSON array of profiles (${(error as Error).message})`,
        });
        return z.NEVER;
      }
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
});

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
  };
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
  return {
    logLevel: value.HUBLESS_LOG_LEVEL,
    tableName: value.HUBLESS_TABLE_NAME,
    idleTimeoutSeconds: value.HUBLESS_IDLE_TIMEOUT_SECONDS,
    cullEverySeconds: value.HUBLESS_CULL_EVERY_SECONDS,
    maxAgeSeconds: value.HUBLESS_MAX_AGE_SECONDS,
    startTimeoutSeconds: value.HUBLESS_START_TIMEOUT_SECONDS,
    namedServerLimit: value.HUBLESS_NAMED_SERVER_LIMIT,
    profiles: value.HUBLESS_PROFILES,
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
    },
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
