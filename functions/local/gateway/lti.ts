import type { IncomingMessage, ServerResponse } from 'node:http';
import { HublessError } from '../../core/errors.ts';
import {
  LTI_JWKS_PATH,
  LTI_LAUNCH_PATH,
  LTI_LOGIN_PATH,
  startLtiLogin,
  verifyLtiLaunch,
} from '../../core/lti/launch.ts';
import { readBody } from './body.ts';
import type { BrowserSessions } from './browser-sessions.ts';
import { escapeHtml, securityHeaders, sendJson } from './html.ts';
import type { GatewayLti } from './options.ts';
import { pathOf } from './paths.ts';
import { refuse } from './refusals.ts';

const FORM_LIMIT = 64 * 1024;

export function isLtiPath(path: string): boolean {
  return path === LTI_LOGIN_PATH || path === LTI_LAUNCH_PATH || path === LTI_JWKS_PATH;
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
    const launch = await verifyLtiLaunch(lti.deps, params);
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
