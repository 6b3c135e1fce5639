import type { ContentSource } from '../content.ts';
import type { EventSink, LifecycleEvent } from '../ports.ts';
import type { ApiScope, HubScope } from './scopes.ts';

/**
 * Ports of the machine API (course platforms). Same habits as core/ports.ts: each
 * method's contract is written here and checked by one contract suite
 * (test/contract/api-stores.contract.ts) against every adapter.
 */

/** Who is calling the machine API. */
export interface MachinePrincipal {
  /** The OAuth client id (client credentials), or the admin's username for an admin's own token. */
  client: string;
  scopes: ApiScope[];
  /** Set when the token belongs to a hubless administrator (who gets every scope). */
  admin?: string;
  /** The JupyterHub scopes it holds on /hub/api, expanded (core/api/scopes.ts). */
  hubScopes?: HubScope[];
  /**
   * Who holds the token, as /hub/api/user tells it: an OAuth client or a service token is
   * a `service`, an administrator's own token or a user's service token a `user`.
   */
  owner?: { kind: 'user' | 'service'; name: string };
  /** The id of the hubless service token that authenticated the request, if one did. */
  tokenId?: string;
  /** A service that stops servers only because they are idle (its stops count as culls). */
  culls?: boolean;
}

export interface MachineAuthenticator {
  /**
   * Verifies a bearer JWT (signature from the issuer's JWKS, issuer, expiry, audience or
   * client) and returns its principal. Throws UnauthorizedError for a missing, forged,
   * expired or foreign token (the reason says which, never echoing the token), and
   * DependencyTimeoutError when the JWKS cannot be fetched.
   */
  verify(token: string): Promise<MachinePrincipal>;
  /**
   * The principal of claims API Gateway's JWT authorizer has already validated (AWS):
   * no signature check, the same scope and admin rules as verify.
   */
  fromClaims(claims: Record<string, unknown>): Promise<MachinePrincipal>;
}

/** One launch link. Only the SHA-256 of its token is stored: the token itself is in the URL alone. */
export interface LaunchLink {
  tokenHash: string;
  user: string;
  /** Path inside the lab to open, e.g. "week3/lab.ipynb". */
  path?: string;
  /** Course material merged into the home when the server starts. */
  content?: ContentSource;
  /** The client that made it (for the audit trail). */
  client: string;
  createdAt: string;
  /** Epoch seconds; also the DynamoDB TTL. TTL deletes late, so readers compare too. */
  expiresAt: number;
  usedAt?: string;
}

/**
 * Remembers which link an Idempotency-Key produced, so a retried POST returns the same
 * URL. The token is kept encrypted with a key derived from the Idempotency-Key, which is
 * never stored: reading the table alone does not reveal a usable link.
 */
export interface IdempotencyRecord {
  /** SHA-256 of (client, user, Idempotency-Key). */
  keyHash: string;
  /** SHA-256 of the request (path, ttl), to refuse the same key for a different request. */
  requestHash: string;
  sealedToken: string;
  expiresAt: number;
}

export interface LaunchLinkStore {
  /** Saves a new link. Token hashes are random, so an existing item is a bug: throws SessionConflictError. */
  put(link: LaunchLink): Promise<void>;
  /** The link with this token hash, expired or used ones included (callers explain why it fails); undefined when unknown. */
  get(tokenHash: string): Promise<LaunchLink | undefined>;
  /**
   * Marks the link used, atomically: only if it exists, belongs to `user`, is unused and
   * has not expired at `nowSeconds`. Returns true for the one caller that marked it,
   * false for everyone else (concurrent redeemers, a used or expired link).
   */
  markUsed(tokenHash: string, user: string, usedAt: string, nowSeconds: number): Promise<boolean>;
  /**
   * Claims an idempotency key: writes `record` unless an unexpired record with the same
   * keyHash exists. Returns undefined when this call claimed it, else the existing record.
   */
  claimIdempotencyKey(record: IdempotencyRecord, nowSeconds: number): Promise<IdempotencyRecord | undefined>;
}

/** Seconds of server time of one user on one UTC day. */
export interface UsageEntry {
  user: string;
  /** YYYY-MM-DD (UTC). */
  date: string;
  seconds: number;
}

export interface UsageStore {
  /**
   * Adds seconds to (user, date) for one session. Idempotent per session: adding the
   * same sessionId to the same (user, date) twice counts once (events may be delivered twice).
   */
  add(entry: UsageEntry & { sessionId: string }): Promise<void>;
  /** Entries of every day from `from` to `to` (inclusive, YYYY-MM-DD), for one user or all, ordered by date then user. */
  query(range: { from: string; to: string; user?: string }): Promise<UsageEntry[]>;
}

/** An EventSink that also keeps recent events for GET /api/v1/events. */
export interface EventLog extends EventSink {
  /** Up to `limit` most recent events, newest first, from the retention window ending at `now`. */
  recent(limit: number, now: Date): Promise<LifecycleEvent[]>;
}
