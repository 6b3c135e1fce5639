import type { LaunchBody } from '../../core/api/schemas.ts';
import { contentFrom } from '../../core/content.ts';
import { createLaunchLink } from '../../core/use-cases/launch-links.ts';
import type { ApiHandlerFn } from './context.ts';
import { header, jsonResult } from './http.ts';

/** POST /api/v1/users/{user}/launch: a single-use link the platform sends to the student. */
export const createLaunchLinkRoute: ApiHandlerFn = async (deps, { params, body, principal, event }) => {
  const request = body as LaunchBody;
  const link = await createLaunchLink(deps.core, deps.launchLinks, {
    user: params.user!,
    path: request.path,
    content: contentFrom(request),
    ttlSeconds: request.ttl_seconds,
    client: principal.client,
    publicUrl: deps.publicUrl,
    idempotencyKey: header(event, 'idempotency-key'),
  });
  return jsonResult(link.repeated ? 200 : 201, { url: link.url, expires_at: link.expiresAt.toISOString() });
};
