import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { labPath } from '../api/schemas.ts';
import { type ContentSource, contentFrom } from '../content.ts';
import { HublessError } from '../errors.ts';
import { normaliseUsername } from '../username.ts';
import type { LtiPlatform } from './ports.ts';

/**
 * What the LTI messages hubless receives (resource link launches, deep linking requests)
 * have in common: the claim names, who the user is, whether they teach the course, and
 * what a link opens. Every refusal is an LtiError whose message says what was wrong and
 * who can fix it.
 */

/** IMS LTI Core 1.3, section 5.3: the claims' common prefix. */
export const CLAIM = 'https://purl.imsglobal.org/spec/lti/claim/';

const INSTRUCTOR_ROLES = [
  'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
  'http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator',
  'http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper',
  'http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant',
  'http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator',
];

export class LtiError extends HublessError {
  constructor(code: string, reason: string, status = 401) {
    super(code, status, reason);
  }
}

/** Whether the roles claim makes the user someone who teaches (or administers) the course. */
export function isInstructor(claims: JWTPayload): boolean {
  const roles = Array.isArray(claims[`${CLAIM}roles`]) ? (claims[`${CLAIM}roles`] as unknown[]) : [];
  return roles.some((role) => INSTRUCTOR_ROLES.includes(String(role)));
}

/** What a link opens: a notebook path and the course material it lives in. */
export interface LinkTarget {
  path?: string;
  content?: ContentSource;
}

/**
 * A link's target from its custom parameters (`repository`, `branch`, `path`), the same
 * rules whether they arrive in a launch or are chosen on the deep linking page.
 */
export function linkTargetFrom(custom: Record<string, unknown>): LinkTarget {
  const text = (name: string) =>
    typeof custom[name] === 'string' && custom[name] ? (custom[name] as string) : undefined;
  const target: LinkTarget = {};
  try {
    const path = text('path');
    if (path) target.path = labPath.parse(path);
    const repository = text('repository');
    const branch = text('branch');
    const content = contentFrom({ ...(repository ? { repository } : {}), ...(branch ? { branch } : {}) });
    if (content) target.content = content;
  } catch (error) {
    const detail =
      error instanceof HublessError
        ? error.message
        : 'path must be a relative path such as week1/intro.ipynb';
    throw new LtiError(
      'lti_bad_custom_parameters',
      `The link's custom parameters are wrong: ${detail}. Ask your teacher to fix the activity's settings.`,
      400,
    );
  }
  return target;
}

/** The hubless user of a launch: the configured claim, or a stable name derived from (iss, sub). */
export function usernameFor(platform: LtiPlatform, claims: JWTPayload): string {
  if (!platform.usernameClaim) {
    const digest = createHash('sha256').update(`${platform.issuer}\n${claims.sub}`).digest('hex');
    return `lti-${digest.slice(0, 16)}`;
  }
  const value = claimAt(claims, platform.usernameClaim);
  try {
    return normaliseUsername(value);
  } catch (error) {
    throw new LtiError(
      'lti_bad_username',
      `The LMS names this user ${JSON.stringify(value ?? null)} in ${platform.usernameClaim}, which is not a hubless username: ${(error as Error).message} An administrator can choose another claim (hubless lti add --username-claim).`,
      400,
    );
  }
}

/** A group per course: its label made safe, plus a hash of (issuer, context id) so two courses never share one. */
export function courseGroupFor(platform: LtiPlatform, contextId: string, label: unknown): string {
  const slug = (typeof label === 'string' ? label : 'course')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const digest = createHash('sha256').update(`${platform.issuer}\n${contextId}`).digest('hex').slice(0, 8);
  return `${slug || 'course'}-${digest}`;
}

function claimAt(claims: JWTPayload, path: string): unknown {
  // Claim names are URLs with dots in them: try the longest claim name first.
  if (path in claims) return claims[path];
  const dot = path.lastIndexOf('.');
  if (dot < 0) return undefined;
  const parent = claimAt(claims, path.slice(0, dot));
  return parent && typeof parent === 'object'
    ? (parent as Record<string, unknown>)[path.slice(dot + 1)]
    : undefined;
}
