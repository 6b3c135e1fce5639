import { DEFAULT_PROFILES } from '../../functions/core/config.ts';
import type { CoreDeps } from '../../functions/core/deps.ts';
import { randomHex } from '../../functions/core/ids.ts';
import { hmacLabTokens } from '../../functions/core/lab-tokens.ts';
import type { Compute, Router, SessionStore } from '../../functions/core/ports.ts';
import { launchInRequest } from '../../functions/core/use-cases/launch-session.ts';
import { FakeCompute } from './fake-compute.ts';
import { FakeClock, FakeHomes, MemoryDirectory, MemoryEventSink } from './fake-parts.ts';
import { FakeRouter } from './fake-router.ts';
import { MemorySessionStore } from './memory-session-store.ts';

export interface TestDeps extends CoreDeps {
  store: SessionStore;
  compute: Compute;
  router: Router;
  homes: FakeHomes;
  events: MemoryEventSink;
  clock: FakeClock;
  directory: MemoryDirectory;
}

/** The lab token key of makeTestDeps (a deployment's is random). */
export const TEST_LAB_TOKEN_KEY = 'test-lab-token-key-0123456789abcdef';

/** Core deps over fakes; pass parts to override. */
export function makeTestDeps(overrides: Partial<TestDeps> = {}): TestDeps {
  const clock = overrides.clock ?? new FakeClock();
  const deps: TestDeps = {
    // Launched inside the start, unless a test passes a queue (the lifecycle tests are not about it).
    launches: launchInRequest(() => deps),
    store: new MemorySessionStore({ clock }),
    compute: new FakeCompute(),
    router: new FakeRouter(),
    homes: new FakeHomes(),
    directory: new MemoryDirectory(),
    events: new MemoryEventSink(),
    settings: {
      idleTimeoutSeconds: 3600,
      maxAgeSeconds: 0,
      startTimeoutSeconds: 180,
      profiles: DEFAULT_PROFILES,
    },
    labEnvironment: () => ({ HUBLESS_IDENTITY_KEYS_URL: 'http://keys.invalid' }),
    labTokens: hmacLabTokens(async () => TEST_LAB_TOKEN_KEY),
    randomId: randomHex,
    ...overrides,
    clock,
  };
  return deps;
}
