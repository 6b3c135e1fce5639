import { CapacityError } from '../../functions/core/errors.ts';
import type { RouteEntry, RouteRecord, Router } from '../../functions/core/ports.ts';
import { baseUrlFor, type Session, type Target } from '../../functions/core/session.ts';

/** An in-memory router with a fixed number of slots, like one small ALB. */
export class FakeRouter implements Router {
  readonly routes = new Map<string, { target: Target; route: RouteRecord }>();
  /** When false, isRouteReady answers false (a target that fails its health check). */
  healthy = true;
  failNextAdd?: Error;
  /** Set: routes answer at this host of their own, as on an ALB pool's second balancer. */
  host?: string;

  private readonly capacity: number;

  constructor(capacity = 100) {
    this.capacity = capacity;
  }

  addCalls = 0;

  async addRoute(session: Session, target: Target): Promise<RouteRecord> {
    this.addCalls += 1;
    const existing = this.routes.get(session.id);
    if (existing) return existing.route;
    if (this.failNextAdd) {
      const error = this.failNextAdd;
      this.failNextAdd = undefined;
      throw error;
    }
    if (this.routes.size >= this.capacity) {
      throw new CapacityError(
        `All ${this.capacity} routes are in use. Stop idle servers or raise the capacity.`,
      );
    }
    const route: RouteRecord = {
      prefix: baseUrlFor(session.user, session.server),
      slot: this.routes.size + 1,
    };
    if (this.host) route.host = this.host;
    this.routes.set(session.id, { target, route });
    return route;
  }

  async isRouteReady(session: Session): Promise<boolean> {
    return this.healthy && this.routes.has(session.id);
  }

  async deleteRoute(sessionId: string): Promise<void> {
    this.routes.delete(sessionId);
  }

  async listRoutes(): Promise<RouteEntry[]> {
    return [...this.routes.entries()].map(([sessionId, { route }]) => ({ sessionId, route }));
  }
}
