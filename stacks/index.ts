import { NagSuppressions } from 'cdk-nag';
import { type App, Stack } from 'sst/constructs';
import { Api } from './Api.ts';
import { Compute } from './Compute.ts';
import { useStageConfig } from './config.ts';
import { Identity } from './Identity.ts';
import { Monitoring } from './Monitoring.ts';
import { Network } from './Network.ts';
import { Routing } from './Routing.ts';
import { Schedules } from './Schedules.ts';
import { Storage } from './Storage.ts';

/** Every hubless stack, in dependency order. sst.config.ts and the infra tests both call this. */
export function hublessStacks(app: App): void {
  // Validate before any construct exists, so a bad value fails with its own message.
  useStageConfig(app);
  app
    .stack(Network)
    .stack(Storage)
    .stack(Identity)
    .stack(Compute)
    .stack(Routing)
    .stack(Api)
    .stack(Schedules)
    .stack(Monitoring);
  for (const stack of app.node.children) {
    if (!(stack instanceof Stack)) continue;
    NagSuppressions.addResourceSuppressions(
      stack.customResourceHandler,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason:
            "SST v2's own per-stack custom resource handler (stack metadata); SST builds it and gives it only the basic execution role.",
          appliesTo: [
            'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
          ],
        },
        {
          id: 'AwsSolutions-L1',
          reason:
            "SST v2's own per-stack custom resource handler: SST pins its runtime (nodejs22.x) to the code it ships.",
        },
      ],
      true,
    );
  }
}

export { Api, Compute, Identity, Monitoring, Network, Routing, Schedules, Storage };
