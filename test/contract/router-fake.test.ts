import { FakeRouter } from '../fakes/fake-router.ts';
import { describeRouterContract } from './router.contract.ts';

// Core's unit tests run on FakeRouter: it keeps the Router contract. It never probes a
// target over HTTP (`healthy` stands for the health check), so those two cases do not apply.
describeRouterContract('FakeRouter', ({ capacity }) => new FakeRouter(capacity), {
  capacity: 3,
  probesTargetOverHttp: false,
});
