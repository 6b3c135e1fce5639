import * as z from 'zod';
import { SESSION_STATES } from '../session.ts';

/**
 * The shapes of /api/v1: request schemas validate what clients send (strict objects:
 * an unknown field is a 400, not silently dropped), response schemas describe what we
 * answer. The OpenAPI document (openapi.ts) is generated from these same schemas, so
 * the documentation cannot drift from the validation.
 */

const MAX_PATH_LENGTH = 1024;

/** A path inside the lab: relative, no "..", no empty segments, no control characters. */
export const labPath = z
  .string()
  .max(MAX_PATH_LENGTH)
  .transform((path) => path.replace(/^\/+/, ''))
  .refine((path) => path.length > 0, 'must name a file or folder inside the lab, e.g. "week3/lab.ipynb"')
  .refine(
    (path) => !path.split('/').some((part) => part === '..' || part === '.' || part === ''),
    'must not contain "..", "." or empty segments',
  )
  .refine(
    (path) => ![...path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f || c === '\\'),
    'must not contain control characters or backslashes',
  )
  .meta({
    description: 'A path inside the lab, relative to the home directory, e.g. "week3/lab.ipynb".',
    example: 'week3/lab.ipynb',
  });

/** Course material (core/content.ts): the same two fields on a launch link and a start. */
const contentFields = {
  repository: z.string().max(500).optional().meta({
    description:
      'A git repository whose files are merged into the home, in a folder named after it, when the server starts (new files appear, updates land, the student\u2019s edits are kept).',
    example: 'https://github.com/org/intro-course.git',
  }),
  branch: z
    .string()
    .max(100)
    .optional()
    .meta({ description: 'The repository\u2019s branch (default: its default branch).', example: 'main' }),
};
const needsRepository = (body: { repository?: string; branch?: string }) =>
  body.branch === undefined || body.repository !== undefined;
const needsRepositoryMessage = { message: 'branch needs repository', path: ['branch'] };

const groupName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'group names are 1-128 letters, digits, ".", "_" or "-"');
const profileName = z.string().min(1).max(64);
const date = z.iso.date().meta({ description: 'A UTC day, YYYY-MM-DD.' });
const timestamp = z.string().meta({ format: 'date-time' });
const limit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .meta({ description: `Page size, 1-${max} (default ${fallback}).` });
const cursor = z
  .string()
  .min(1)
  .max(2048)
  .optional()
  .meta({ description: 'next_cursor from the previous page.' });

// ---- requests -------------------------------------------------------------------------

export const pageQuery = z.strictObject({ limit: limit(1000, 100), cursor });

export const putUserBody = z
  .strictObject({
    email: z.email().optional(),
    groups: z.array(groupName).max(100).optional(),
    profile: profileName
      .optional()
      .meta({ description: 'The server profile used when a start does not name one.' }),
  })
  .meta({ description: 'Fields to set; fields left out keep their value.' });

export const startServerBody = z
  .strictObject({
    profile: profileName.optional(),
    path: labPath.optional(),
    ...contentFields,
  })
  .refine(needsRepository, needsRepositoryMessage);

export const SERVER_STATE_FILTERS = ['active', 'all', ...SESSION_STATES] as const;
export const listServersQuery = z.strictObject({
  state: z
    .enum(SERVER_STATE_FILTERS)
    .default('active')
    .meta({ description: '"active" (default: everything not stopped), "all", or one state.' }),
  user: z.string().optional(),
  group: groupName.optional(),
  limit: limit(1000, 100),
  cursor,
});

export const MAX_LINK_TTL_SECONDS = 3600;
export const DEFAULT_LINK_TTL_SECONDS = 600;
export const launchBody = z
  .strictObject({
    path: labPath.optional(),
    ttl_seconds: z.int().min(30).max(MAX_LINK_TTL_SECONDS).default(DEFAULT_LINK_TTL_SECONDS),
    ...contentFields,
  })
  .refine(needsRepository, needsRepositoryMessage);

/** POST /capacity: a class to come (core/pool/capacity.ts checks the time against the clock). */
export const capacityBody = z.strictObject({
  sessions: z.int().min(0).max(100_000).meta({
    description:
      'How many students will start a server for the class; 0 withdraws the announcement made for this start time.',
    example: 300,
  }),
  at: z.iso.datetime({ offset: true }).meta({
    description:
      'When the class starts, ISO 8601 with a time zone; at most 10 minutes past and 60 days ahead. Announcing again for the same start time replaces the announcement.',
    example: '2026-12-03T09:00:00Z',
  }),
});

export const MAX_USAGE_DAYS = 92;
export const usageQuery = z.strictObject({ from: date, to: date, user: z.string().optional() });

export const eventsQuery = z.strictObject({ limit: limit(500, 100) });

// ---- responses ------------------------------------------------------------------------

export const errorResponse = z.strictObject({
  error: z.strictObject({ code: z.string(), message: z.string() }),
});

export const userResponse = z.strictObject({
  name: z.string(),
  email: z.string().nullable(),
  groups: z.array(z.string()),
  profile: z.string().nullable(),
  admin: z.boolean(),
  disabled: z.boolean(),
  created: timestamp,
  sign_in: z
    .union([z.strictObject({ invited: z.literal(true) }), z.strictObject({ initial_password: z.string() })])
    .optional()
    .meta({
      description:
        'Only in the answer that created the user: "invited" (an invitation was e-mailed), or the initial password to hand to the user, shown this once.',
    }),
});

const progressEvent = z.strictObject({ progress: z.number(), message: z.string(), time: timestamp });

export const serverResponse = z.strictObject({
  user: z.string(),
  server: z.string(),
  state: z.enum(SESSION_STATES),
  ready: z.boolean(),
  pending: z.enum(['spawn', 'stop']).nullable(),
  profile: z.string(),
  url: z.string().meta({ description: 'Where the lab opens once ready.' }),
  progress: z.number(),
  message: z.string(),
  events: z.array(progressEvent),
  started: timestamp,
  ready_at: timestamp.nullable(),
  stopped_at: timestamp.nullable(),
  last_activity: timestamp.nullable(),
  reason: z
    .strictObject({
      code: z.string(),
      message: z.string(),
      by: z.string().nullable().meta({
        description: 'Who asked for the stop ("user:…", "service:…"); null for the control plane’s own.',
      }),
    })
    .nullable(),
});

export const tokenBody = z.strictObject({
  name: z.string().meta({ description: 'The service’s name, e.g. "idle-culler".' }),
  scopes: z.array(z.string()).meta({
    description:
      'JupyterHub scope names, e.g. ["list:users", "read:users:activity", "read:servers", "delete:servers"].',
  }),
  user: z
    .string()
    .optional()
    .meta({ description: 'Make a token that acts as this user (GET /hub/api/user).' }),
  culls: z
    .boolean()
    .optional()
    .meta({ description: 'The service stops only idle servers: record its stops as idle culls.' }),
  oauth_redirect_uri: z.string().optional().meta({
    description:
      'Make the service an OAuth client (HubOAuth): users signing in are sent back here. Its client id is service-<name>, its secret this token.',
  }),
  oauth_scopes: z.array(z.string()).optional().meta({
    description: 'JupyterHub scopes the service may hold for a signed-in user (default: identity only).',
  }),
});

/** An LMS registration for LTI 1.3 (core/lti/registration.ts checks the values). */
export const ltiPlatformBody = z.strictObject({
  issuer: z.string().meta({
    description:
      'The LMS’s issuer ("iss"), e.g. https://canvas.instructure.com or https://moodle.example.edu.',
  }),
  client_id: z.string().meta({ description: 'The client id the LMS gave the tool when it was added.' }),
  deployment_ids: z
    .array(z.string())
    .meta({ description: 'Deployments of the tool allowed to launch (the LMS shows each one).' }),
  jwks_url: z.string().meta({ description: 'Where the LMS publishes its signing keys (https).' }),
  auth_url: z.string().meta({ description: 'The LMS’s OIDC authorization endpoint (https).' }),
  username_claim: z.string().optional().meta({
    description:
      'The id_token claim naming the hubless user, a dotted path (e.g. "email", or "https://purl.imsglobal.org/spec/lti/claim/ext.user_username" for Moodle). Absent: "lti-" and a hash of the LMS’s user id.',
  }),
});

export const ltiPlatformQuery = z.strictObject({
  issuer: z.string().meta({ description: 'The registration’s issuer, as listed.' }),
  client_id: z.string().meta({ description: 'The registration’s client id, as listed.' }),
});

export const ltiPlatformResponse = z.strictObject({
  issuer: z.string(),
  client_id: z.string(),
  deployment_ids: z.array(z.string()),
  jwks_url: z.string(),
  auth_url: z.string(),
  username_claim: z.string().nullable(),
  created_at: timestamp,
});

export const tokenResponse = z.strictObject({
  id: z.string(),
  name: z.string(),
  user: z.string().nullable(),
  scopes: z.array(z.string()),
  culls: z.boolean(),
  oauth_client_id: z.string().nullable(),
  oauth_redirect_uri: z.string().nullable(),
  oauth_scopes: z.array(z.string()).nullable(),
  created_at: timestamp,
  created_by: z.string(),
});

export const newTokenResponse = tokenResponse.extend({
  token: z.string().meta({ description: 'Shown once. Send as "Authorization: token <token>" to /hub/api.' }),
});

export const capacityResponse = z.strictObject({
  sessions: z.int(),
  at: timestamp,
  fits: z.boolean().meta({
    description: 'Whether the deployment has room for every session announced around this time.',
  }),
  balancers_needed: z.int().optional().meta({ description: 'Load balancers the class alone needs.' }),
  balancers: z.int().optional().meta({ description: 'Load balancers in the pool now.' }),
  sessions_per_balancer: z.int().optional(),
  advice: z.string().optional().meta({ description: 'What the operator would change when it does not fit.' }),
});

export const launchResponse = z.strictObject({
  url: z
    .string()
    .meta({ description: 'Single-use; send it to the student. It works once, for that student only.' }),
  expires_at: timestamp,
});

export const usageResponse = z.strictObject({
  from: date,
  to: date,
  items: z.array(
    z.strictObject({
      user: z.string(),
      date,
      seconds: z.number(),
      hours: z.number(),
      running: z.boolean().meta({ description: 'Includes time of a server that is still running.' }),
    }),
  ),
  total_hours: z.number(),
});

export const eventResponse = z.strictObject({
  type: z.enum(['start', 'ready', 'stop', 'cull', 'fail']),
  time: timestamp,
  user: z.string(),
  server: z.string(),
  session_id: z.string(),
  reason: z.string().nullable(),
  duration_seconds: z.number().nullable(),
});

export const paged = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), next_cursor: z.string().nullable() });

export type PutUserBody = z.output<typeof putUserBody>;
export type StartServerBody = z.output<typeof startServerBody>;
export type ListServersQuery = z.output<typeof listServersQuery>;
export type LaunchBody = z.output<typeof launchBody>;
export type CapacityBody = z.output<typeof capacityBody>;
export type UsageQuery = z.output<typeof usageQuery>;
export type TokenBody = z.output<typeof tokenBody>;
export type LtiPlatformBody = z.output<typeof ltiPlatformBody>;
export type LtiPlatformQuery = z.output<typeof ltiPlatformQuery>;
export type UserResponse = z.output<typeof userResponse>;
export type ServerResponse = z.output<typeof serverResponse>;
