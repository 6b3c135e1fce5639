import { randomBytes } from 'node:crypto';
import { decodeJwt, type JWTPayload, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';
import type { ContentSource } from '../content.ts';
import { CLAIM, courseGroupFor, isInstructor, LtiError, linkTargetFrom, usernameFor } from './claims.ts';
import { type DeepLinkingRequest, deepLinkingRequestFrom } from './deep-linking.ts';
import type { LtiLogin, LtiPlatform, LtiPlatforms, LtiReplayGuard } from './ports.ts';

/**
 * The tool side of an LTI 1.3 resource-link launch (IMS LTI Core 1.3, section 5.1, and
 * IMS Security Framework 1.0, section 5.1.1: OIDC third-party-initiated login):
 *
 *   1. the platform sends the browser to /lti/login (iss, login_hint, target_link_uri…);
 *      `startLtiLogin` answers with the platform's auth URL carrying a fresh state and nonce;
 *   2. the platform posts an id_token and the state to /lti/launch; `verifyLtiMessage`
 *      checks everything the specification asks a tool to check, and says who the user
 *      is, which course, whether they teach it, and what to open (a resource link
 *      launch), or that a teacher is choosing what a new link opens (a deep linking
 *      request, core/lti/deep-linking.ts).
 *
 * Every refusal is an LtiError whose message says what was wrong and who can fix it.
 */

export const LTI_LOGIN_PATH = '/lti/login';
export const LTI_LAUNCH_PATH = '/lti/launch';
export const LTI_JWKS_PATH = '/lti/jwks';
/** A login has this long to come back with its id_token. */
export const LTI_LOGIN_TTL_MS = 5 * 60_000;
/** Clock skew accepted between the platform and us. */
const CLOCK_TOLERANCE_SECONDS = 30;

export interface LtiDeps {
  platforms: LtiPlatforms;
  replay: LtiReplayGuard;
  /** The tool's public URL, without a trailing slash (the redirect_uri is under it). */
  toolUrl: string;
  /** The platform's signing keys (a cached remote JWKS in production). */
  keysFor: (platform: LtiPlatform) => JWTVerifyGetKey;
  now?: () => number;
  randomId?: () => string;
}

export interface LoginInitiation {
  iss?: string;
  login_hint?: string;
  target_link_uri?: string;
  lti_message_hint?: string;
  client_id?: string;
  lti_deployment_id?: string;
}

/** Step 1: where to send the browser (the platform's authorization endpoint). */
export async function startLtiLogin(deps: LtiDeps, params: LoginInitiation): Promise<string> {
  if (!params.iss || !params.login_hint || !params.target_link_uri)
    throw new LtiError(
      'lti_login_incomplete',
      'This LTI login is missing iss, login_hint or target_link_uri. Start the activity again from your course; if it keeps failing, the tool is configured wrongly in the LMS.',
      400,
    );
  const platform = await findPlatform(deps.platforms, params.iss, params.client_id);
  if (params.lti_deployment_id && !platform.deploymentIds.includes(params.lti_deployment_id))
    throw unknownDeployment(params.lti_deployment_id, platform);
  const random = deps.randomId ?? (() => randomBytes(24).toString('base64url'));
  const login: LtiLogin = {
    state: random(),
    nonce: random(),
    issuer: platform.issuer,
    clientId: platform.clientId,
    expiresAt: (deps.now?.() ?? Date.now()) + LTI_LOGIN_TTL_MS,
  };
  await deps.replay.putLogin(login);
  const url = new URL(platform.authUrl);
  const query: Record<string, string> = {
    scope: 'openid',
    response_type: 'id_token',
    response_mode: 'form_post',
    prompt: 'none',
    client_id: platform.clientId,
    redirect_uri: `${deps.toolUrl}${LTI_LAUNCH_PATH}`,
    login_hint: params.login_hint,
    state: login.state,
    nonce: login.nonce,
  };
  if (params.lti_message_hint) query.lti_message_hint = params.lti_message_hint;
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  return url.toString();
}

/** What a verified launch says. */
export interface LtiLaunch {
  platform: LtiPlatform;
  /** The hubless user (a valid username). */
  user: string;
  /** The course's group, and its admin group for instructors. */
  groups: string[];
  instructor: boolean;
  courseGroup?: string;
  /** What to open, from the link's custom parameters. */
  path?: string;
  content?: ContentSource;
  email?: string;
  /** A readable name for pages ("Ada Lovelace"). */
  displayName?: string;
}

/** What a verified id_token asks for. */
export type LtiMessage =
  | { type: 'LtiResourceLinkRequest'; launch: LtiLaunch }
  | { type: 'LtiDeepLinkingRequest'; request: DeepLinkingRequest };

/** Step 2: verifies the id_token posted to /lti/launch and says what it asks for, for which hubless user. */
export async function verifyLtiMessage(
  deps: LtiDeps,
  form: { id_token?: string; state?: string },
): Promise<LtiMessage> {
  if (!form.id_token || !form.state)
    throw new LtiError(
      'lti_launch_incomplete',
      'This launch carries no id_token or state. Start the activity again from your course.',
      400,
    );
  const login = await deps.replay.takeLogin(form.state);
  if (!login)
    throw new LtiError(
      'lti_state_unknown',
      'This launch was not started here, was already used, or took more than 5 minutes. Start the activity again from your course.',
    );
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(form.id_token);
  } catch {
    throw new LtiError('lti_token_malformed', 'The LMS sent an id_token that is not a JWT.');
  }
  if (unverified.iss !== login.issuer)
    throw new LtiError(
      'lti_wrong_issuer',
      `The id_token was issued by ${JSON.stringify(unverified.iss)}, but this login was started for ${login.issuer}.`,
    );
  const platform = await deps.platforms.get(login.issuer, login.clientId);
  if (!platform)
    throw new LtiError(
      'lti_unknown_platform',
      `The LMS ${login.issuer} is no longer registered with hubless.`,
    );

  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(form.id_token, deps.keysFor(platform), {
      issuer: platform.issuer,
      audience: platform.clientId,
      algorithms: ['RS256'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ['exp', 'iat', 'sub', 'nonce'],
      ...(deps.now ? { currentDate: new Date(deps.now()) } : {}),
    }));
  } catch (error) {
    throw tokenRefusal(error, platform);
  }
  // Several audiences: the one that asked (azp) must be us (OIDC Core 3.1.3.7, LTI Security 5.1.3).
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if ((audiences.length > 1 || claims.azp !== undefined) && claims.azp !== platform.clientId)
    throw new LtiError(
      'lti_wrong_audience',
      `The id_token was issued to ${JSON.stringify(claims.azp)} (azp), not to hubless's client id ${platform.clientId}.`,
    );
  if (claims.nonce !== login.nonce || !(await deps.replay.claimNonce(String(claims.nonce), login.expiresAt)))
    throw new LtiError(
      'lti_nonce_replayed',
      'This launch was already used (its nonce was seen before). Start the activity again from your course.',
    );
  const deployment = claims[`${CLAIM}deployment_id`];
  if (typeof deployment !== 'string' || !platform.deploymentIds.includes(deployment))
    throw unknownDeployment(String(deployment), platform);
  if (claims[`${CLAIM}version`] !== '1.3.0')
    throw new LtiError(
      'lti_wrong_version',
      `hubless speaks LTI 1.3.0; the LMS sent version ${JSON.stringify(claims[`${CLAIM}version`])}.`,
      400,
    );
  const type = claims[`${CLAIM}message_type`];
  if (type === 'LtiDeepLinkingRequest')
    return { type, request: deepLinkingRequestFrom(platform, deployment, claims) };
  if (type !== 'LtiResourceLinkRequest')
    throw new LtiError(
      'lti_wrong_message_type',
      `hubless answers resource link launches (LtiResourceLinkRequest) and deep linking requests (LtiDeepLinkingRequest), not ${JSON.stringify(type)}.`,
      400,
    );
  const link = claims[`${CLAIM}resource_link`] as { id?: unknown } | undefined;
  if (!link || typeof link.id !== 'string')
    throw new LtiError('lti_no_resource_link', 'The launch names no resource link (resource_link.id).', 400);
  return { type, launch: launchFrom(platform, claims) };
}

function launchFrom(platform: LtiPlatform, claims: JWTPayload): LtiLaunch {
  const user = usernameFor(platform, claims);
  const instructor = isInstructor(claims);
  const context = claims[`${CLAIM}context`] as { id?: unknown; label?: unknown } | undefined;
  const courseGroup =
    context && typeof context.id === 'string'
      ? courseGroupFor(platform, context.id, context.label)
      : undefined;
  const groups = courseGroup ? (instructor ? [courseGroup, `${courseGroup}-admins`] : [courseGroup]) : [];
  const custom = (claims[`${CLAIM}custom`] ?? {}) as Record<string, unknown>;
  const launch: LtiLaunch = { platform, user, groups, instructor };
  if (courseGroup) launch.courseGroup = courseGroup;
  if (typeof claims.email === 'string') launch.email = claims.email;
  if (typeof claims.name === 'string') launch.displayName = claims.name;
  const { path, content } = linkTargetFrom(custom);
  if (path) launch.path = path;
  if (content) launch.content = content;
  return launch;
}

async function findPlatform(
  platforms: LtiPlatforms,
  issuer: string,
  clientId?: string,
): Promise<LtiPlatform> {
  if (clientId) {
    const platform = await platforms.get(issuer, clientId);
    if (platform) return platform;
  } else {
    const candidates = (await platforms.list()).filter((p) => p.issuer === issuer);
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length > 1)
      throw new LtiError(
        'lti_client_id_needed',
        `Several hubless registrations exist for ${issuer}; the LMS must send client_id in the login request.`,
        400,
      );
  }
  throw new LtiError(
    'lti_unknown_platform',
    `The LMS ${issuer}${clientId ? ` (client id ${clientId})` : ''} is not registered with hubless. An administrator registers it with: hubless lti add --issuer … --client-id …`,
    400,
  );
}

function unknownDeployment(deployment: string, platform: LtiPlatform): LtiError {
  return new LtiError(
    'lti_unknown_deployment',
    `The deployment ${JSON.stringify(deployment)} of ${platform.issuer} is not registered with hubless. An administrator adds it with: hubless lti add … --deployment-id ${deployment}`,
  );
}

function tokenRefusal(error: unknown, platform: LtiPlatform): LtiError {
  if (error instanceof joseErrors.JWTExpired)
    return new LtiError(
      'lti_token_expired',
      'The launch expired before it reached hubless. Start the activity again.',
    );
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'aud')
      return new LtiError(
        'lti_wrong_audience',
        `The id_token is not for hubless's client id ${platform.clientId} on ${platform.issuer}.`,
      );
    return new LtiError('lti_bad_claims', `The id_token's ${error.claim} claim is wrong: ${error.reason}.`);
  }
  if (
    error instanceof joseErrors.JWSSignatureVerificationFailed ||
    error instanceof joseErrors.JWKSNoMatchingKey ||
    error instanceof joseErrors.JOSEAlgNotAllowed
  )
    return new LtiError(
      'lti_bad_signature',
      `The id_token is not signed by a key of ${platform.issuer} (checked against ${platform.jwksUrl}).`,
    );
  if (error instanceof joseErrors.JOSEError)
    return new LtiError('lti_token_invalid', `The id_token could not be verified (${error.code}).`);
  return new LtiError(
    'lti_keys_unavailable',
    `The signing keys of ${platform.issuer} could not be read from ${platform.jwksUrl}. Try again; if it keeps failing, tell your administrator.`,
    502,
  );
}
