import { FakeCompute } from '../fakes/fake-compute.ts';
import { describeComputeContract, launchSpec } from './compute.contract.ts';

// The fake that core's unit tests rely on keeps the same contract as the real adapters.
describeComputeContract(
  'FakeCompute',
  () => {
    const compute = new FakeCompute({
      behaviour: (spec) =>
        spec.env.FAKE_CRASH
          ? { kind: 'crashes-mid-start', startMs: 20, exitCode: 2 }
          : { kind: 'normal', startMs: 20 },
    });
    return {
      compute,
      spec: (user) => launchSpec(user),
      crashingSpec: (user) => launchSpec(user, { env: { FAKE_CRASH: '1' } }),
      close: async () => compute.dispose(),
    };
  },
  { timeoutMs: 2_000, pollIntervalMs: 5, unknownHandle: 'fake-task/999999' },
);
