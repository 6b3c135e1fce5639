import type { IncomingMessage, ServerResponse } from 'node:http';
import { HublessError } from '../../core/errors.ts';
import {
  type DeepLinkingRequest,
  deepLinkingResponse,
  LTI_DEEP_LINK_PATH,
  openDeepLinkingRequest,
  sealDeepLinkingRequest,
} from '../../core/lti/deep-linking.ts';
import {
  LTI_JWKS_PATH,
  LTI_LAUNCH_PATH,
  LTI_LOGIN_PATH,
  startLtiLogin,
  verifyLtiMessage,
} from '../../core/lti/launch.ts';
import { readBody } from './body.ts';
import type { BrowserSessions } from './browser-sessions.ts';
import { escapeHtml, newNonce, securityHeaders, sendJson, sendPage } from './html.ts';
import type { GatewayLti } from './options.ts';
import { pathOf } from './paths.ts';
import { refuse } from './refusals.ts';

const FORM_LIMIT = 64 * 1024;

export function isLtiPath(path: string): boolean {
  return (
    path === LTI_LOGIN_PATH ||
    path === LTI_LAUNCH_PATH ||
    path === LTI_JWKS_PATH ||
    path === LTI_DEEP_LINK_PATH
  );
}

export async function handleLti(
  req: IncomingMessage,
  res: ServerResponse,
  lti: GatewayLti,
  sessions: BrowserSessions,
): Promise<void> {
  const path = pathOf(req.url);
  try {
    if (path === LTI_JWKS_PATH) return sendJson(res, 200, lti.toolJwks);
    const params = await paramsOf(req);
    if (path === LTI_LOGIN_PATH) {
      const location = await startLtiLogin(lti.deps, params);
      res.writeHead(302, { location, ...securityHeaders() });
      res.end();
      return;
    }
    if (req.method !== 'POST')
      return refuse(req, res, {
        status: 405,
        code: 'method_not_allowed',
        title: 'Not a launch',
        message: 'The LMS posts launches here; open the activity from your course instead.',
      });
    if (path === LTI_DEEP_LINK_PATH) return await answerDeepLinking(res, lti, params);
    const message = await verifyLtiMessage(lti.deps, params);
    if (message.type === 'LtiDeepLinkingRequest') return await showChoice(res, lti, message.request);
    const { launch } = message;
    await lti.enter(launch);
    // The platform posted here from its own site: the session cookie set now is first-party
    // from here on (the LMS should open the tool in a new window, not an iframe).
    sessions.signInVerified(
      req,
      res,
      {
        username: launch.user,
        sub: `lti:${launch.platform.issuer}:${launch.user}`,
        ...(launch.email ? { email: launch.email } : {}),
      },
      '/spawn-pending',
    );
  } catch (error) {
    if (!(error instanceof HublessError) || !error.expose) throw error;
    refuse(req, res, {
      status: error.status,
      code: error.code,
      title: 'Launch refused',
      message: error.message,
      page: `<h1>hubless could not open this activity</h1><p>${escapeHtml(error.message)}</p><p class="muted">Code: ${escapeHtml(error.code)}. You are not signed in to hubless by this launch.</p>`,
    });
  }
}

/**
 * The deep linking choice: which notebook the new activity opens. No hubless session is
 * made (the teacher only chooses); the request rides along signed by the tool's key.
 */
async function showChoice(res: ServerResponse, lti: GatewayLti, request: DeepLinkingRequest): Promise<void> {
  const sealed = await sealDeepLinkingRequest(lti.toolKey, request);
  const field = (name: string, label: string, hint: string, value = '') =>
    `<label for="${name}">${label}</label><input id="${name}" name="${name}" value="${escapeHtml(value)}" aria-describedby="${name}-hint"><p id="${name}-hint" class="muted">${hint}</p>`;
  sendPage(
    res,
    200,
    'Choose what this activity opens',
    `<h1>Choose what this activity opens</h1>
<p>Students who click it land, signed in, in this notebook of a fresh copy of the course material.</p>
<form method="post" action="${LTI_DEEP_LINK_PATH}">
<input type="hidden" name="request" value="${escapeHtml(sealed)}">
${field('title', 'Title', 'What the course page shows.', request.title ?? '')}
${field('repository', 'Repository', 'A git URL, e.g. https://github.com/org/course.git (empty: no course material).')}
${field('branch', 'Branch', 'Empty: the default branch.')}
${field('path', 'Notebook', "Path in the student's home, e.g. course/week1.ipynb (empty: the lab's start page).")}
<button type="submit">Add to the course</button>
</form>`,
    { embedding: { frameAncestor: new URL(request.returnUrl).origin } },
  );
}

/** Posts the signed choice back to the LMS (an auto-submitted form, as Deep Linking asks). */
async function answerDeepLinking(
  res: ServerResponse,
  lti: GatewayLti,
  params: Record<string, string>,
): Promise<void> {
  const request = await openDeepLinkingRequest(lti.toolKey, params.request);
  const jwt = await deepLinkingResponse(lti.toolKey, request, params, {
    toolUrl: lti.deps.toolUrl,
    launchPath: LTI_LAUNCH_PATH,
  });
  const lms = new URL(request.returnUrl).origin;
  const nonce = newNonce();
  sendPage(
    res,
    200,
    'Back to your course',
    `<h1>Back to your course…</h1>
<form method="post" action="${escapeHtml(request.returnUrl)}">
<input type="hidden" name="JWT" value="${escapeHtml(jwt)}">
<button type="submit">Continue</button>
</form>`,
    {
      nonce,
      script: 'document.forms[0].submit();',
      embedding: { formTarget: lms, frameAncestor: lms },
    },
  );
}

/** The query (GET) or the form (POST, application/x-www-form-urlencoded), as LTI sends both. */
async function paramsOf(req: IncomingMessage): Promise<Record<string, string>> {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const params = Object.fromEntries(url.searchParams);
  if (req.method === 'POST') {
    const body = (await readBody(req, FORM_LIMIT)).toString('utf8');
    Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
  }
  return params;
}
