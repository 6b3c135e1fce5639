import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { IdempotencyKeyReuseError, LaunchLinkError } from '../api/errors.ts';
import type { IdempotencyRecord, LaunchLink, LaunchLinkStore } from '../api/ports.ts';
import { type ContentSource, checkContentSource } from '../content.ts';
import type { CoreDeps } from '../deps.ts';
import { InvalidStateError, ValidationError } from '../errors.ts';
import { advance, mutate } from '../lifecycle.ts';
import { isTerminal, type Session } from '../session.ts';
import { startServer } from './start-server.ts';
import { getActiveUser } from './users.ts';

/**
 * Launch links: a course platform asks for a URL that lands one student in one
 * notebook (like nbgitpuller links, without sharing any password). The URL carries a
 * random token; only its SHA-256 is stored, so the table never holds a usable link.
 * The student still signs in through the front door; the link only says where to go.
 * A link works once, for its own user, until it expires.
 */

export const TOKEN_BYTES = 32;
/** What deps.randomId may produce (hex in production); anything else is not one of our tokens. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface CreateLinkRequest {
  user: string;
  path?: string;
  /** Course material the lab merges into the home when it starts. */
  content?: ContentSource;
  ttlSeconds: number;
  client: string;
  /** `<publicUrl>/launch?token=…` is what the student opens. */
  publicUrl: string;
  idempotencyKey?: string;
}

export interface CreatedLink {
  url: string;
  expiresAt: Date;
  /** true when an earlier request with the same Idempotency-Key made this link. */
  repeated: boolean;
}

export async function createLaunchLink(
  deps: CoreDeps,
  links: LaunchLinkStore,
  request: CreateLinkRequest,
): Promise<CreatedLink> {
  await getActiveUser(deps, request.user);
  if (request.idempotencyKey !== undefined && !/^[\x21-\x7e]{1,255}$/.test(request.idempotencyKey)) {
    throw new ValidationError(
      'The Idempotency-Key header must be 1-255 visible ASCII characters (a UUID is a good choice).',
      'invalid_idempotency_key',
    );
  }
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const token = deps.randomId(TOKEN_BYTES);
  const link: LaunchLink = {
    tokenHash: hashToken(token),
    user: request.user,
    client: request.client,
    createdAt: now.toISOString(),
    expiresAt: nowSeconds + request.ttlSeconds,
  };
  if (request.path !== undefined) link.path = request.path;
  if (request.content !== undefined) link.content = checkContentSource(request.content);
  // The link is saved before the key is claimed: a racing duplicate that loses the claim
  // only leaves an unused link behind (it expires), never a URL that does not work.
  await links.put(link);
  const url = (t: string) => `${request.publicUrl.replace(/\/+$/, '')}/launch?token=${t}`;
  if (request.idempotencyKey === undefined)
    return { url: url(token), expiresAt: new Date(link.expiresAt * 1000), repeated: false };

  const secret = `${request.client}\n${request.user}\n${request.idempotencyKey}`;
  const requestHash = sha256(
    JSON.stringify([request.path ?? null, request.ttlSeconds, ...(request.content ? [request.content] : [])]),
  );
  const record: IdempotencyRecord = {
    keyHash: sha256(`key\n${secret}`),
    requestHash,
    sealedToken: seal(token, secret),
    expiresAt: link.expiresAt,
  };
  const existing = await links.claimIdempotencyKey(record, nowSeconds);
  if (!existing) return { url: url(token), expiresAt: new Date(link.expiresAt * 1000), repeated: false };
  if (existing.requestHash !== requestHash) throw new IdempotencyKeyReuseError();
  return {
    url: url(unseal(existing.sealedToken, secret)),
    expiresAt: new Date(existing.expiresAt * 1000),
    repeated: true,
  };
}

export interface RedeemRequest {
  token: string | undefined;
  /** The signed-in user (from the front door), who must be the link's user. */
  user: string;
  groups: string[];
}

/**
 * Uses a link: checks it is known, unused, unexpired and for this user (a link for
 * someone else stays unused, so its student can still use it), marks it used with a
 * conditional write (one winner under concurrency), then starts the server with the
 * link's path, or points the session that is already starting or running at that path.
 */
export async function redeemLaunchLink(
  deps: CoreDeps,
  links: LaunchLinkStore,
  request: RedeemRequest,
): Promise<Session> {
  if (!request.token || !TOKEN_PATTERN.test(request.token)) throw new LaunchLinkError('link_unknown');
  const tokenHash = hashToken(request.token);
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const link = await links.get(tokenHash);
  if (!link) throw new LaunchLinkError('link_unknown');
  if (link.user !== request.user) throw new LaunchLinkError('link_other_user');
  if (link.usedAt) throw new LaunchLinkError('link_used');
  if (link.expiresAt <= nowSeconds) throw new LaunchLinkError('link_expired');
  const current = await deps.store.get(request.user, '');
  if (current?.state === 'stopping' && (await advance(deps, current)).state === 'stopping') {
    // Checked before the link is spent, so the student can simply open it again.
    throw new InvalidStateError(
      'Your previous server is still stopping. Open the link again in a few seconds.',
    );
  }
  // Checked above at this same second, the link was for this user, unused and unexpired:
  // a refused mark means another request used it first.
  if (!(await links.markUsed(tokenHash, request.user, now.toISOString(), nowSeconds)))
    throw new LaunchLinkError('link_used');

  const { session, created } = await startServer(deps, {
    user: request.user,
    server: '',
    profile: (await getActiveUser(deps, request.user)).profile,
    groups: request.groups,
    openPath: link.path,
    content: link.content,
  });
  if (created) return session;
  // Already starting or running: the student should still land where this link points.
  // (mutate retries only on this same session; one that ended meanwhile is left as it is.)
  return mutate(deps, session, (current) =>
    !isTerminal(current.state) && current.openPath !== link.path
      ? { ...current, openPath: link.path, updatedAt: now.toISOString() }
      : undefined,
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** AES-256-GCM with a key derived from the idempotency secret (client, user, key), which is never stored. */
function seal(token: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', createHash('sha256').update(`seal\n${secret}`).digest(), iv);
  const sealed = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return [iv, sealed, cipher.getAuthTag()].map((part) => part.toString('base64url')).join('.');
}

function unseal(sealedToken: string, secret: string): string {
  const [iv, sealed, tag] = sealedToken.split('.').map((part) => Buffer.from(part, 'base64url'));
  if (!iv || !sealed || !tag) throw new Error('A stored idempotency record is malformed.');
  const decipher = createDecipheriv(
    'aes-256-gcm',
    createHash('sha256').update(`seal\n${secret}`).digest(),
    iv,
  );
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed), decipher.final()]).toString('utf8');
}
