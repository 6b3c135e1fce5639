import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Log } from '../../core/log.ts';
import { apiErrorBody, isApiPath } from '../../handlers/api/http.ts';
import { BodyTooLargeError } from './body.ts';
import { escapeHtml, sendJson, sendPage } from './html.ts';
import { isPageNavigation, pathOf } from './paths.ts';

/**
 * The one way the gateway answers a request it refuses or fails itself, in the shape
 * the client reads: on an API path, that API's error body (handlers/api/http.ts: ours
 * on /api/v1, JupyterHub's on /hub/api); to a browser loading a page, a page; to
 * anything else (a script's fetch, an image), hubless's JSON error body.
 */
export interface Refusal {
  status: number;
  /** Machine-readable, as in the API's error bodies. */
  code: string;
  /** The page title. */
  title: string;
  message: string;
  /** The page body, already escaped; default: the title as a heading and the message. */
  page?: string;
  headers?: Record<string, string | string[]>;
}

export function refuse(req: IncomingMessage, res: ServerResponse, refusal: Refusal): void {
  const path = pathOf(req.url);
  const { status, code, message } = refusal;
  if (isApiPath(path) || !isPageNavigation(req)) {
    sendJson(res, status, apiErrorBody(path, status, code, message), refusal.headers);
    return;
  }
  const page = refusal.page ?? `<h1>${escapeHtml(refusal.title)}</h1><p>${escapeHtml(message)}</p>`;
  sendPage(res, status, refusal.title, page, { headers: refusal.headers ?? {} });
}

export const BAD_PATH: Refusal = {
  status: 400,
  code: 'invalid_path',
  title: 'Bad request',
  message: 'The address has "." or ".." parts; use the plain path.',
};

export const NO_API: Refusal = {
  status: 404,
  code: 'not_found',
  title: 'Not found',
  message: 'The hubless API is not enabled on this gateway.',
};

export const NOT_YOURS: Refusal = {
  status: 403,
  code: 'forbidden',
  title: 'Not your server',
  message: 'This server belongs to another user.',
  page: '<h1>This server belongs to another user</h1><p><a href="/">Go to your portal</a></p>',
};

/**
 * What a request the gateway failed to handle gets: 413 for a body over the limit (the
 * client can act on that), else a 500 whose details go to the log, never to the client.
 */
export function failure(what: string, error: unknown, report: Log): Refusal {
  if (error instanceof BodyTooLargeError) {
    return { status: 413, code: 'payload_too_large', title: 'Request too large', message: error.message };
  }
  report('error', `gateway: ${what} failed`, {
    error: error instanceof Error ? error.message : 'unknown error',
  });
  return {
    status: 500,
    code: 'internal',
    title: 'Something went wrong',
    message: 'The gateway could not handle this request. Try again in a moment.',
  };
}
