import { NotFoundError, ValidationError } from '../errors.ts';
import type { LtiPlatform, LtiPlatforms } from './ports.ts';

/**
 * Registering an LMS for LTI 1.3 launches: the one use case behind `hubless lti` (local
 * mode's command line) and `/api/v1/lti/platforms` (the admin API, both modes). Stores only
 * keep what this module checked.
 */

/** What an administrator gives: everything the LMS shows when the tool is added to it. */
export type NewLtiPlatform = Omit<LtiPlatform, 'createdAt'>;

/** Checks a registration before it is stored: every URL absolute, at least one deployment. */
export function checkPlatform<T extends NewLtiPlatform>(platform: T): T {
  const url = (name: string, value: string, httpsOnly: boolean) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ValidationError(
        `${name} must be an absolute URL; got ${JSON.stringify(value)}.`,
        'invalid_lti_platform',
      );
    }
    // http only for a platform on this machine (a test LMS); a real LMS is always https.
    const local = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
    if (httpsOnly && parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && local))
      throw new ValidationError(`${name} must be an https:// URL; got ${value}.`, 'invalid_lti_platform');
  };
  if (!platform.issuer)
    throw new ValidationError(
      'issuer is required (the LMS\'s "iss", e.g. https://canvas.instructure.com).',
      'invalid_lti_platform',
    );
  if (!platform.clientId)
    throw new ValidationError(
      'client id is required (the LMS shows it when the tool is added).',
      'invalid_lti_platform',
    );
  if (platform.deploymentIds.length === 0 || platform.deploymentIds.some((d) => !d))
    throw new ValidationError(
      'at least one deployment id is required (the LMS shows it when the tool is deployed).',
      'invalid_lti_platform',
    );
  url('issuer', platform.issuer, false);
  url('jwks URL', platform.jwksUrl, true);
  url('auth URL', platform.authUrl, true);
  if (platform.usernameClaim !== undefined && !/^[^.\s]+(\.[^.\s]+)*$/.test(platform.usernameClaim))
    throw new ValidationError(
      `username claim must be a claim name or a dotted path into the id_token, e.g. "email" or "https://purl.imsglobal.org/spec/lti/claim/ext.user_username"; got ${JSON.stringify(platform.usernameClaim)}. Leave it out to name users by a hash of the LMS's user id.`,
      'invalid_lti_platform',
    );
  return platform;
}

/**
 * Registers an LMS, or replaces its registration (same issuer and client id): a replaced
 * one keeps its creation time. `created` says which happened.
 */
export async function registerLtiPlatform(
  platforms: LtiPlatforms,
  input: NewLtiPlatform,
  now: Date,
): Promise<{ platform: LtiPlatform; created: boolean }> {
  const checked = checkPlatform({
    ...input,
    deploymentIds: [...new Set(input.deploymentIds.map((d) => d.trim()))],
  });
  const existing = await platforms.get(checked.issuer, checked.clientId);
  const platform: LtiPlatform = {
    issuer: checked.issuer,
    clientId: checked.clientId,
    deploymentIds: checked.deploymentIds,
    jwksUrl: checked.jwksUrl,
    authUrl: checked.authUrl,
    ...(checked.usernameClaim !== undefined ? { usernameClaim: checked.usernameClaim } : {}),
    createdAt: existing?.createdAt ?? now.toISOString(),
  };
  await platforms.put(platform);
  return { platform, created: !existing };
}

/** Every registration, by issuer then client id (a stable order for lists and pages). */
export async function listLtiPlatforms(platforms: LtiPlatforms): Promise<LtiPlatform[]> {
  return (await platforms.list()).sort(
    (a, b) => a.issuer.localeCompare(b.issuer) || a.clientId.localeCompare(b.clientId),
  );
}

/** Removes a registration: launches from it are refused at once. Unknown: a 404 that says how to find it. */
export async function removeLtiPlatform(
  platforms: LtiPlatforms,
  issuer: string,
  clientId: string,
): Promise<void> {
  if (!issuer || !clientId)
    throw new ValidationError(
      'Name the registration to remove by its issuer and client id (both as listed).',
      'invalid_lti_platform',
    );
  if (!(await platforms.remove(issuer, clientId)))
    throw new NotFoundError(
      `There is no registration of ${issuer} with client id ${clientId}. The registrations are listed by \`hubless lti list\` or GET /api/v1/lti/platforms.`,
      'unknown_lti_platform',
    );
}
