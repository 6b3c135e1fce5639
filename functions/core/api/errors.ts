import { ForbiddenError, HublessError } from '../errors.ts';
import type { ApiScope, HubScope } from './scopes.ts';

/** Errors only the machine API and launch links raise; everything else is in core/errors.ts. */

/** The token is genuine but was not granted the scope this route needs. */
export class InsufficientScopeError extends ForbiddenError {
  readonly scope: ApiScope;
  constructor(scope: ApiScope) {
    super(
      `This route needs the scope ${scope}. Grant it to the client (in Cognito: the app client's custom scopes) and request a new token.`,
      'insufficient_scope',
    );
    this.scope = scope;
  }
}

/** A /hub/api route needs a JupyterHub scope the token does not hold. */
export class MissingHubScopeError extends ForbiddenError {
  readonly scope: HubScope;
  constructor(scope: HubScope) {
    super(
      `This route needs the JupyterHub scope ${scope}. Make a service token that has it (hubless tokens create NAME --scopes ${scope}) or grant the client the hubless scope that implies it.`,
      'insufficient_scope',
    );
    this.scope = scope;
  }
}

/** Request bodies are small JSON documents; anything larger is refused before parsing. */
export class PayloadTooLargeError extends HublessError {
  constructor(limitBytes: number, gotBytes: number) {
    super(
      'payload_too_large',
      413,
      `The request body is ${gotBytes} bytes; the limit is ${limitBytes} bytes.`,
    );
  }
}

export type LaunchLinkProblem = 'link_unknown' | 'link_used' | 'link_expired' | 'link_other_user';

/** A launch link that cannot be used, with what the student should do instead. */
export class LaunchLinkError extends HublessError {
  constructor(problem: LaunchLinkProblem) {
    const [status, reason] = LAUNCH_LINK_PROBLEMS[problem];
    super(problem, status, reason);
  }
}

const LAUNCH_LINK_PROBLEMS: Record<LaunchLinkProblem, [number, string]> = {
  link_unknown: [
    404,
    'This launch link is not valid. Open the assignment again from your course page to get a new link.',
  ],
  link_used: [
    410,
    'This launch link has already been used. Each link works once: open the assignment again from your course page.',
  ],
  link_expired: [
    410,
    'This launch link has expired. Open the assignment again from your course page to get a new link.',
  ],
  link_other_user: [
    403,
    'This link is for another user. Sign out and sign in as the student the link was made for, or open the assignment from your own course page.',
  ],
};

/** The same Idempotency-Key was sent again with a different request. */
export class IdempotencyKeyReuseError extends HublessError {
  constructor() {
    super(
      'idempotency_key_reused',
      409,
      'This Idempotency-Key was already used for a different request; use a new key for a new request.',
    );
  }
}

export class MethodNotAllowedError extends HublessError {
  readonly allowed: string[];
  constructor(path: string, allowed: string[]) {
    super(
      'method_not_allowed',
      405,
      `${path} does not accept this method; it accepts ${allowed.join(', ')}.`,
    );
    this.allowed = allowed;
  }
}
