import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapacityError } from '../../functions/core/errors.ts';
import type { Router } from '../../functions/core/ports.ts';
import { newSessionId, type Session, type Target } from '../../functions/core/session.ts';

export interface RouterContractOptions {
  /** How many routes the routers that makeRouter builds hold (keep it small: the suite fills one). */
  capacity: number;
  /**
   * Whether isRouteReady probes the target over HTTP (local router). Adapters that ask
   * their platform instead (ALB target health) set false and test readiness themselves.
   */
  probesTargetOverHttp?: boolean;
}

export function makeSession(user: string, server = '', nonce = 'n1'): Session {
  const now = new Date().toISOString();
  return {
    id: newSessionId(user, server, nonce),
    user,
    server,
    profile: 'default',
    state: 'running',
    version: 3,
    createdAt: now,
    updatedAt: now,
    events: [],
  };
}

/**
 * What every Router keeps (core/ports.ts), in the spirit of jupyterhub/traefik-proxy's
 * proxytest: add, list, ready, delete, idempotency, and a clear capacity error.
 */
export function describeRouterContract(
  name: string,
  makeRouter: (options: { capacity: number }) => Promise<Router> | Router,
  options: RouterContractOptions,
): void {
  const { capacity, probesTargetOverHttp = true } = options;

  describe(`${name} (Router contract)`, () => {
    // A tiny lab stand-in: answers 200 on <baseUrl>api for the users it knows.
    let lab: Server;
    let labTarget: Target;
    beforeAll(async () => {
      lab = createServer((req, res) => {
        const ok = req.url === '/user/alice/api' || req.url === '/user/alice/project/api';
        res
          .writeHead(ok ? 200 : 404, { 'content-type': 'application/json' })
          .end(ok ? '{"version":"test"}' : '{}');
      });
      await new Promise<void>((resolve) => lab.listen(0, '127.0.0.1', resolve));
      labTarget = { host: '127.0.0.1', port: (lab.address() as AddressInfo).port };
    });
    afterAll(async () => {
      await new Promise((resolve) => lab.close(resolve));
    });

    describe('addRoute', () => {
      it('makes the route visible in listRoutes', async () => {
        const router = await makeRouter({ capacity });
        const session = makeSession('alice');
        const route = await router.addRoute(session, labTarget);
        expect(route).toBeTypeOf('object');
        expect(await router.listRoutes()).toEqual([{ sessionId: session.id, route }]);
      });

      it('returns the same route when called twice for one session', async () => {
        const router = await makeRouter({ capacity });
        const session = makeSession('alice', 'project');
        const first = await router.addRoute(session, labTarget);
        const second = await router.addRoute(session, labTarget);
        expect(second).toEqual(first);
        expect(await router.listRoutes()).toHaveLength(1);
      });

      it('refuses a route when full, naming the capacity and how to raise it', async () => {
        const router = await makeRouter({ capacity });
        for (let i = 0; i < capacity; i++) await router.addRoute(makeSession(`user-${i}`), labTarget);
        const error = await router.addRoute(makeSession('one-too-many'), labTarget).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CapacityError);
        expect((error as CapacityError).message).toContain(String(capacity));
        expect((error as CapacityError).status).toBe(503);
        expect(await router.listRoutes()).toHaveLength(capacity);
        // A session that already has its route is not refused.
        await expect(router.addRoute(makeSession('user-0'), labTarget)).resolves.toBeDefined();
      });
    });

    describe('isRouteReady', () => {
      it.skipIf(!probesTargetOverHttp)('is true once the lab answers at <baseUrl>api', async () => {
        const router = await makeRouter({ capacity });
        const session = makeSession('alice');
        expect(await router.isRouteReady(session)).toBe(false);
        await router.addRoute(session, labTarget);
        expect(await router.isRouteReady(session)).toBe(true);
      });

      it.skipIf(!probesTargetOverHttp)('is false while the lab does not answer', async () => {
        const router = await makeRouter({ capacity });
        const session = makeSession('bob');
        await router.addRoute(session, labTarget); // the lab answers 404 for bob
        expect(await router.isRouteReady(session)).toBe(false);
        const closed = makeSession('carol');
        await router.addRoute(closed, { host: '127.0.0.1', port: 1 });
        expect(await router.isRouteReady(closed)).toBe(false);
      });
    });

    describe('deleteRoute', () => {
      it('removes the route and is idempotent', async () => {
        const router = await makeRouter({ capacity });
        const session = makeSession('alice');
        const route = await router.addRoute(session, labTarget);
        await router.deleteRoute(session.id, route);
        expect(await router.listRoutes()).toEqual([]);
        await router.deleteRoute(session.id, route);
        await router.deleteRoute(makeSession('never-routed').id);
        expect(await router.listRoutes()).toEqual([]);
      });

      it('deletes a route from what listRoutes gives, the session id and its record, as reconciliation does', async () => {
        const router = await makeRouter({ capacity });
        await router.addRoute(makeSession('alice'), labTarget);
        await router.addRoute(makeSession('bob', 'project'), labTarget);
        for (const entry of await router.listRoutes()) await router.deleteRoute(entry.sessionId, entry.route);
        expect(await router.listRoutes()).toEqual([]);
      });

      it('frees the slot for another session', async () => {
        const router = await makeRouter({ capacity });
        const sessions = Array.from({ length: capacity }, (_, i) => makeSession(`user-${i}`));
        const routes = [];
        for (const s of sessions) routes.push(await router.addRoute(s, labTarget));
        const first = sessions[0] as Session;
        await router.deleteRoute(first.id, routes[0]);
        await expect(router.addRoute(makeSession('newcomer'), labTarget)).resolves.toBeDefined();
      });
    });

    it('routes each session at its own base URL', async () => {
      const router = await makeRouter({ capacity });
      await router.addRoute(makeSession('alice'), labTarget);
      await router.addRoute(makeSession('alice', 'project'), labTarget);
      const ids = (await router.listRoutes()).map((r) => r.sessionId).sort();
      expect(ids).toEqual([makeSession('alice').id, makeSession('alice', 'project').id].sort());
    });
  });
}
