import { randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { CLAIM, isInstructor, LtiError, linkTargetFrom, usernameFor } from './claims.ts';
import type { LtiPlatform, LtiToolKey } from './ports.ts';

/**
 * LTI Deep Linking (IMS LTI Deep Linking 2.0, the version LTI 1.3 uses): when a teacher
 * adds hubless to a course, the LMS sends them to hubless with an LtiDeepLinkingRequest;
 * hubless asks which notebook the activity opens (a repository, a branch, a path) and
 * sends the teacher back to the LMS with a signed LtiDeepLinkingResponse holding one
 * resource link whose custom parameters are exactly those a launch reads
 * (core/lti/claims.ts linkTargetFrom). Students who click it land in that notebook.
 *
 * Between the choice page and the answer the request travels in the page, signed by the
 * tool's key (`sealDeepLinkingRequest`), so hubless keeps no state and a teacher cannot be
 * made to answer someone else's request.
 */

export const LTI_DEEP_LINK_PATH = '/lti/deep-link';
const DEEP_LINKING = 'https://purl.imsglobal.org/spec/lti-dl/claim/';
/** How long the choice page stays valid. */
const CHOICE_TTL_SECONDS = 30 * 60;
/** The audience of a sealed request: never a token a platform or a lab would accept. */
const SEALED_AUDIENCE = 'hubless:lti-deep-link-choice';
const TITLE_MAX = 255;

/** What a verified deep linking request says (Deep Linking 2.0, section 4.4). */
export interface DeepLinkingRequest {
  issuer: string;
  clientId: string;
  deploymentId: string;
  /** Where the answer is posted (deep_link_return_url). */
  returnUrl: string;
  /** Opaque value the platform wants back unchanged. */
  data?: string;
  /** The hubless username of the teacher choosing. */
  teacher: string;
  /** The activity's title the LMS proposes, if any. */
  title?: string;
}

/** What the teacher chose on the page: the same names as a link's custom parameters. */
export interface DeepLinkChoice {
  title?: string;
  repository?: string;
  branch?: string;
  path?: string;
}

export function deepLinkingRequestFrom(
  platform: LtiPlatform,
  deploymentId: string,
  claims: JWTPayload,
): DeepLinkingRequest {
  const settings = claims[`${DEEP_LINKING}deep_linking_settings`] as Record<string, unknown> | undefined;
  const returnUrl = settings?.deep_link_return_url;
  if (
    typeof returnUrl !== 'string' ||
    !URL.canParse(returnUrl) ||
    !/^https?:$/.test(new URL(returnUrl).protocol)
  )
    throw new LtiError(
      'lti_deep_link_incomplete',
      'The LMS asked hubless to choose content but gave no deep_link_return_url to send the choice back to. The tool is configured wrongly in the LMS.',
      400,
    );
  const accepted = Array.isArray(settings?.accept_types) ? (settings.accept_types as unknown[]) : [];
  if (!accepted.includes('ltiResourceLink'))
    throw new LtiError(
      'lti_deep_link_unsupported',
      `This place in the LMS accepts ${accepted.map(String).join(', ') || 'nothing'}; hubless adds activities (ltiResourceLink). Add hubless where the LMS offers an external tool activity.`,
      400,
    );
  if (!isInstructor(claims))
    throw new LtiError(
      'lti_not_instructor',
      "Only the course's teachers choose what a hubless activity opens. Ask your teacher to add it.",
      403,
    );
  const request: DeepLinkingRequest = {
    issuer: platform.issuer,
    clientId: platform.clientId,
    deploymentId,
    returnUrl,
    teacher: usernameFor(platform, claims),
  };
  if (typeof settings?.data === 'string') request.data = settings.data;
  if (typeof settings?.title === 'string' && settings.title) request.title = settings.title;
  return request;
}

/** The request, signed into the choice page so the answer needs no server-side state. */
export async function sealDeepLinkingRequest(
  key: LtiToolKey,
  request: DeepLinkingRequest,
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return key.sign({ aud: SEALED_AUDIENCE, iat, exp: iat + CHOICE_TTL_SECONDS, request });
}

export async function openDeepLinkingRequest(
  key: LtiToolKey,
  sealed: string | undefined,
): Promise<DeepLinkingRequest> {
  let claims: Record<string, unknown> | undefined;
  try {
    if (sealed) claims = await key.verify(sealed);
  } catch {
    claims = undefined;
  }
  if (!claims || claims.aud !== SEALED_AUDIENCE || typeof claims.request !== 'object' || !claims.request)
    throw new LtiError(
      'lti_deep_link_expired',
      "This choice page is older than 30 minutes or was not made by hubless. Open the tool's selection again from your course.",
      400,
    );
  return claims.request as DeepLinkingRequest;
}

/**
 * The signed LtiDeepLinkingResponse (Deep Linking 2.0, section 4.5) holding one resource
 * link that opens the chosen notebook. Refuses a choice a launch would refuse, so a
 * teacher learns of a wrong path now rather than from their students.
 */
export async function deepLinkingResponse(
  key: LtiToolKey,
  request: DeepLinkingRequest,
  choice: DeepLinkChoice,
  options: { toolUrl: string; launchPath: string; now?: number },
): Promise<string> {
  const custom: Record<string, string> = {};
  for (const name of ['repository', 'branch', 'path'] as const) {
    const value = choice[name]?.trim();
    if (value) custom[name] = value;
  }
  const target = linkTargetFrom(custom);
  const title = choice.title?.trim() || request.title || target.path?.split('/').at(-1) || 'Jupyter';
  if (title.length > TITLE_MAX)
    throw new LtiError(
      'lti_deep_link_title',
      `The title has ${title.length} characters; at most ${TITLE_MAX}.`,
      400,
    );
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  return key.sign({
    iss: request.clientId,
    aud: request.issuer,
    iat,
    exp: iat + 600,
    nonce: randomBytes(16).toString('base64url'),
    [`${CLAIM}deployment_id`]: request.deploymentId,
    [`${CLAIM}message_type`]: 'LtiDeepLinkingResponse',
    [`${CLAIM}version`]: '1.3.0',
    [`${DEEP_LINKING}content_items`]: [
      { type: 'ltiResourceLink', title, url: `${options.toolUrl}${options.launchPath}`, custom },
    ],
    ...(request.data !== undefined ? { [`${DEEP_LINKING}data`]: request.data } : {}),
  });
}
