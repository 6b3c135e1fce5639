import { CapacityError } from '../../core/errors.ts';
import type { RouteEntry, RouteRecord, Router } from '../../core/ports.ts';
import { baseUrlFor, parseSessionId, type Session, type Target } from '../../core/session.ts';

/**
 * The local gateway's route table (the ALB listener rules' stand-in): URL prefix ->
 * where the lab listens. The gateway and the control plane share one instance in one
 * process; the gateway calls `lookup` on every `/user/...` request.
 *
 * The table lives in memory: after a restart it is empty and core's reconciliation
 * adds the routes of sessions that are still running, as it would after losing ALB rules.
 *
 * A route belongs to one session. A newer session of the same (user, server) takes the
 * prefix over; deleting the older one afterwards leaves the newer route alone.
 */
export const DEFAULT_MAX_ROUTES = 1000;

/** addRoute was asked to route to an address that is not the session's own lab. */
export class UntrustedTargetError extends Error {
  override name = 'UntrustedTargetError';
}

interface RouteSlot {
  sessionId: string;
  target: Target;
}

export class GatewayRouter implements Router {
  readonly maxRoutes: number;
  readonly #routes = new Map<string, RouteSlot>();
  readonly #readyTimeoutMs: number;
  readonly #trusts: (session: Session, target: Target) => boolean;

  constructor(
    options: {
      maxRoutes?: number;
      readyTimeoutMs?: number;
      /**
       * Whether `target` really is `session`'s lab. Local mode answers from the process
       * compute's own list of children: the session table can be written by whoever reaches
       * the store, so a `ready` record naming some other server must not get a route (the
       * gateway would send that user's requests, with her signed identity header, there).
       */
      trusts?: (session: Session, target: Target) => boolean;
    } = {},
  ) {
    this.maxRoutes = options.maxRoutes ?? DEFAULT_MAX_ROUTES;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 2000;
    this.#trusts = options.trusts ?? (() => true);
  }

  /** The target of the longest prefix that `path` falls under (`/user/alice` counts as `/user/alice/`). */
  lookup(path: string): { prefix: string; target: Target; sessionId: string } | undefined {
    let best: string | undefined;
    for (const prefix of this.#routes.keys()) {
      if (
        (path.startsWith(prefix) || path === prefix.slice(0, -1)) &&
        (!best || prefix.length > best.length)
      ) {
        best = prefix;
      }
    }
    const slot = best === undefined ? undefined : this.#routes.get(best);
    return best === undefined || !slot
      ? undefined
      : { prefix: best, target: slot.target, sessionId: slot.sessionId };
  }

  async addRoute(session: Session, target: Target): Promise<RouteRecord> {
    const prefix = baseUrlFor(session.user, session.server);
    if (!this.#trusts(session, target)) {
      throw new UntrustedTargetError(
        `Refused to route ${prefix} to ${target.host}:${target.port}: this machine started no server for ` +
          `session ${session.id} there. The session record does not match a lab hubless runs (a stale or forged record).`,
      );
    }
    if (!this.#routes.has(prefix) && this.#routes.size >= this.maxRoutes) {
      throw new CapacityError(
        `The local gateway is full: it routes at most ${this.maxRoutes} servers at once (the gateway router's ` +
          `maxRoutes setting) and all of them are in use. Stop idle servers, or raise maxRoutes.`,
      );
    }
    this.#routes.set(prefix, { sessionId: session.id, target: { host: target.host, port: target.port } });
    return { prefix };
  }

  async isRouteReady(session: Session): Promise<boolean> {
    const prefix = baseUrlFor(session.user, session.server);
    const slot = this.#routes.get(prefix);
    if (!slot || slot.sessionId !== session.id) return false;
    try {
      const response = await fetch(`http://${hostForUrl(slot.target.host)}:${slot.target.port}${prefix}api`, {
        signal: AbortSignal.timeout(this.#readyTimeoutMs),
        redirect: 'manual',
      });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  async deleteRoute(sessionId: string, route?: RouteRecord): Promise<void> {
    let prefix = route?.prefix;
    if (typeof prefix !== 'string') {
      const { user, server } = parseSessionId(sessionId);
      prefix = baseUrlFor(user, server);
    }
    if (this.#routes.get(prefix)?.sessionId === sessionId) this.#routes.delete(prefix);
  }

  async listRoutes(): Promise<RouteEntry[]> {
    return [...this.#routes].map(([prefix, slot]) => ({ sessionId: slot.sessionId, route: { prefix } }));
  }
}

function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
