import { createServiceToken } from '../../../functions/core/api/service-tokens.ts';
import { type ApiKit, makeApiKit } from '../../fakes/api-harness.ts';
import { makeTestDeps, type TestDeps } from '../../fakes/core-deps.ts';
import { FakeCompute } from '../../fakes/fake-compute.ts';
import { FakeClock } from '../../fakes/fake-parts.ts';
import { FakeRouter } from '../../fakes/fake-router.ts';
import { MemoryServiceTokenStore } from '../../fakes/memory-service-tokens.ts';
import { type HubClient, hubClient } from './hub-client.ts';

/**
 * The API handler over fakes, with service tokens, for /hub/api compatibility tests
 * that must be fast and need no network: the handler is called in memory.
 */
export interface HubKit {
  kit: ApiKit;
  core: TestDeps;
  compute: FakeCompute;
  clock: FakeClock;
  tokens: MemoryServiceTokenStore;
  /** A client whose every answer is checked against rest-api.yml. */
  client(token: string): HubClient;
  /** A service token with these JupyterHub scopes. */
  serviceToken(
    scopes: string[],
    options?: { name?: string; user?: string; culls?: boolean },
  ): Promise<string>;
  addUsers(names: string[]): Promise<void>;
}

export async function makeHubKit(): Promise<HubKit> {
  const compute = new FakeCompute();
  const clock = new FakeClock();
  // Room for a class of hundreds (the fake router's default is one ALB's 100).
  const core = makeTestDeps({ compute, clock, router: new FakeRouter(1000) });
  const tokens = new MemoryServiceTokenStore();
  const kit = await makeApiKit({ serviceTokens: tokens }, core);
  const admin = await kit.token();
  return {
    kit,
    core,
    compute,
    clock,
    tokens,
    client(token) {
      return hubClient(
        async (method, path, init) => {
          const url = new URL(path, 'http://in-memory');
          const { authorization, ...headers } = init.headers;
          delete headers['content-type'];
          const answer = await kit.call(method, url.pathname, {
            authorization,
            headers,
            query: Object.fromEntries(url.searchParams),
            ...(init.body === undefined ? {} : { rawBody: init.body }),
          });
          return { status: answer.status, headers: answer.headers, body: answer.body };
        },
        () => token,
      );
    },
    async serviceToken(scopes, options = {}) {
      const { token } = await createServiceToken(
        tokens,
        { name: options.name ?? 'svc', scopes, user: options.user, culls: options.culls, createdBy: 'test' },
        clock.now(),
      );
      return token;
    },
    async addUsers(names) {
      for (const name of names)
        await kit.call('PUT', `/api/v1/users/${name}`, { token: admin, body: { groups: ['cs101'] } });
    },
  };
}
