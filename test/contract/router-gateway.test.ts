import { describe, expect, it } from 'vitest';
import { GatewayRouter } from '../../functions/adapters/local/gateway-router.ts';
import { describeRouterContract, makeSession } from './router.contract.ts';

describeRouterContract('GatewayRouter', ({ capacity }) => new GatewayRouter({ maxRoutes: capacity }), {
  capacity: 3,
});

describe('GatewayRouter', () => {
  const target = { host: '127.0.0.1', port: 9000 };

  describe('lookup', () => {
    it('finds the longest matching prefix, so a named server wins over the default one', async () => {
      const router = new GatewayRouter();
      await router.addRoute(makeSession('alice'), target);
      await router.addRoute(makeSession('alice', 'project'), { host: '127.0.0.1', port: 9001 });
      expect(router.lookup('/user/alice/lab/tree')?.target.port).toBe(9000);
      expect(router.lookup('/user/alice/project/lab')?.target.port).toBe(9001);
      expect(router.lookup('/user/alice')?.prefix).toBe('/user/alice/');
    });

    it('does not match another user whose name starts the same', async () => {
      const router = new GatewayRouter();
      await router.addRoute(makeSession('al'), target);
      expect(router.lookup('/user/alice/')).toBeUndefined();
      expect(router.lookup('/user/al/')).toBeDefined();
    });
  });

  describe('deleteRoute', () => {
    it('leaves a newer session of the same server alone', async () => {
      const router = new GatewayRouter();
      const old = makeSession('alice', '', 'old');
      const fresh = makeSession('alice', '', 'new');
      await router.addRoute(old, target);
      await router.addRoute(fresh, { host: '127.0.0.1', port: 9002 });
      await router.deleteRoute(old.id);
      expect(router.lookup('/user/alice/')?.sessionId).toBe(fresh.id);
    });
  });

  it('defaults to 1000 routes and names the setting when full', async () => {
    expect(new GatewayRouter().maxRoutes).toBe(1000);
    const router = new GatewayRouter({ maxRoutes: 1 });
    await router.addRoute(makeSession('a'), target);
    await expect(router.addRoute(makeSession('b'), target)).rejects.toThrow(/maxRoutes/);
  });
});
