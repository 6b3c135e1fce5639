/**
 * One error tree for the whole control plane (like JupyterHub's SpawnException and
 * middy's createError): every error carries a machine-readable `code`, an HTTP `status`,
 * a `reason` a person can act on, and `expose`, which says whether that reason may be
 * shown to the client. Handlers show only exposed errors; everything else becomes a
 * generic 500 and is logged.
 */
export class HublessError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;

  constructor(
    code: string,
    status: number,
    reason: string,
    options: { expose?: boolean; cause?: unknown } = {},
  ) {
    super(reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.expose = options.expose ?? status < 500;
  }

  /** The human-readable explanation (the message), named as in the design. */
  get reason(): string {
    return this.message;
  }
}

/** Input that can never succeed as sent: a bad username, malformed JSON, an unknown field. */
export class ValidationError extends HublessError {
  constructor(reason: string, code = 'invalid_request') {
    super(code, 400, reason);
  }
}

export class UnauthorizedError extends HublessError {
  constructor(reason = 'Sign in first: this request carries no valid identity.') {
    super('unauthorized', 401, reason);
  }
}

export class ForbiddenError extends HublessError {
  constructor(reason: string, code = 'forbidden') {
    super(code, 403, reason);
  }
}

export class NotFoundError extends HublessError {
  constructor(reason: string, code = 'not_found') {
    super(code, 404, reason);
  }
}

/**
 * A conditional write lost a race. `current` is the item that won (read back with
 * ReturnValuesOnConditionCheckFailure), so callers can decide without another read.
 */
export class SessionConflictError<T = unknown> extends HublessError {
  readonly current: T | undefined;
  constructor(reason: string, current: T | undefined) {
    super('conflict', 409, reason);
    this.current = current;
  }
}

/** The request is valid but the session is in a state that does not allow it. */
export class InvalidStateError extends HublessError {
  constructor(reason: string) {
    super('invalid_state', 409, reason);
  }
}

/** Every routing slot (ALB pool) or compute slot is taken. Shown to users as "full". */
export class CapacityError extends HublessError {
  constructor(reason: string) {
    // Shown: "the deployment is full, stop idle servers" is what the user and the caller need.
    super('capacity', 503, reason, { expose: true });
  }
}

/** The lab could not be started or crashed while starting. `reason` is shown to its owner. */
export class SpawnError extends HublessError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('spawn_failed', 500, reason, { expose: true, cause: options.cause });
  }
}

/** A cloud API kept throttling after our retries ran out of the time budget. */
export class ThrottledError extends HublessError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('throttled', 503, reason, { expose: true, cause: options.cause });
  }
}

/** A bad or missing setting. Raised once at start-up, naming the variable. */
export class ConfigError extends HublessError {
  constructor(reason: string) {
    super('config', 500, reason, { expose: false });
  }
}

/** A dependency did not answer in time; the reason names common causes and the fix. */
export class DependencyTimeoutError extends HublessError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('timeout', 504, reason, { expose: true, cause: options.cause });
  }
}

/**
 * The session store did not answer (refused, reset, or timed out): every page that needs
 * it answers 503 with this reason rather than a generic 500 or a minute-long wait.
 */
export class StoreUnavailableError extends HublessError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('store_unavailable', 503, reason, { expose: true, cause: options.cause });
  }
}

export function isHublessError(error: unknown): error is HublessError {
  return error instanceof HublessError;
}
