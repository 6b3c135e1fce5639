import { ValidationError } from '../errors.ts';
import type { LtiPlatform } from './ports.ts';

/** Checks a registration before it is stored: every URL absolute, at least one deployment. */
export function checkPlatform(platform: LtiPlatform): LtiPlatform {
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
  return platform;
}
