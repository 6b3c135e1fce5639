/**
 * `npm run bench -- aws-class`: a class of BENCH_AWS_CLASS_USERS (1,000) students arriving
 * within BENCH_AWS_CLASS_ARRIVAL_S (60) seconds on AWS mode, in the simulated account of
 * test/aws-sim: the real Lambda entry points and wiring, the largest ALB pool the
 * configuration allows, Fargate's launch rate (a burst of 100, then 20 per second).
 * The LMS creates the students through the API; each signs in through the simulated
 * ALB, starts on the portal and polls until ready. Reports the start request's latency,
 * the time until all are ready against the floor Fargate's launch rate sets, the AWS
 * calls per student by API (and the throttled ones), and the class-hour's cost from the
 * calls and task-seconds with the README's price table.
 */
import { type BenchResult, ms, percentile, ratio, round } from './lib/common.ts';

process.env.NODE_ENV = 'test'; // SST synthesizes offline only in tests (test/infra/synth.ts)
process.env.HUBLESS_LOG_LEVEL ??= 'error';

const USERS = Number(process.env.BENCH_AWS_CLASS_USERS ?? 1000);
const ARRIVAL_S = Number(process.env.BENCH_AWS_CLASS_ARRIVAL_S ?? 60);
// A student waits this long for their server; a loaded machine makes everything slower.
const READY_TIMEOUT_S = Number(process.env.BENCH_AWS_CLASS_READY_TIMEOUT_S ?? 900);

// README "Monthly cost" prices (us-east-1 list prices).
const PRICE = {
  fargateVcpuHour: 0.04048,
  fargateGbHour: 0.004445,
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  dynamoWrite: 0.625 / 1e6,
  dynamoRead: 0.125 / 1e6,
  apiRequest: 1 / 1e6,
  albHour: 0.0225 + 2 * 0.005,
};
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

async function main(): Promise<BenchResult> {
  const { startDynamoDbLocal } = await import('../functions/local/dynamodb-local.ts');
  const { deployForSimulation } = await import('../test/aws-sim/deploy.ts');
  const { SimAccount } = await import('../test/aws-sim/account.ts');
  const { enrolClass, morning, lmsStopAll, quiesce, studentNames } = await import(
    '../test/aws-sim/class-run.ts'
  );
  const { DEFAULT_CAPACITY_PER_ALB } = await import('../functions/adapters/aws/alb-slots.ts');

  const dynamo = await startDynamoDbLocal({ startTimeoutMs: 120_000 });
  const deployment = await deployForSimulation({
    dynamoEndpoint: dynamo.endpoint,
    // Room for the whole class at once (21 balancers for 1,000 students), within the default quota of 50.
    overrides: { albPoolSize: Math.ceil(USERS / DEFAULT_CAPACITY_PER_ALB) },
  });
  const sim = await SimAccount.start({ deployment });
  try {
    const options = {
      prefix: 'st',
      students: USERS,
      arrivalMs: ARRIVAL_S * 1000,
      pollMs: 1000,
      readyTimeoutMs: READY_TIMEOUT_S * 1000,
    };
    const enrolStarted = performance.now();
    const passwords = await enrolClass(sim, options);
    const enrolMs = performance.now() - enrolStarted;
    const callsBefore = snapshot(sim.calls);
    const { outcomes, startedAt } = await morning(sim, options, passwords);
    const morningCalls = diff(snapshot(sim.calls), callsBefore);
    const ready = outcomes.filter((o) => o.state === 'ready');
    const lastReady = Math.max(...ready.map((o) => (o.readyMs ?? 0) + startedAt + 0), startedAt) - startedAt;
    const launches = sim.ecs.tasks.size;
    // Fargate's launch rate: a burst of 100 tasks, then 20 a second; plus one task's own start.
    const floorMs =
      Math.max(0, (launches - sim.ecs.launchRate.burst) / sim.ecs.launchRate.perSecond) * 1000 + 1500;
    const reasons = new Map<string, number>();
    for (const o of outcomes.filter((x) => x.state !== 'ready')) {
      const key = `${o.state}: ${(o.reason ?? '').slice(0, 90)}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    const starts = outcomes.flatMap((o) => (o.startMs === undefined ? [] : [o.startMs]));
    const taskSeconds = sim.taskSeconds();
    await lmsStopAll(sim, studentNames(options));
    await quiesce(sim, 60_000);

    // The class-hour: every ready lab runs an hour (0.5 vCPU, 2 GiB on-demand), the control
    // plane's requests as measured for the morning, the pool's balancers for the hour.
    const labHour = 0.5 * PRICE.fargateVcpuHour + 2 * PRICE.fargateGbHour;
    const lambdaInvocations = Object.values(sim.lambdas.invocations).reduce((a, b) => a + b, 0);
    const lambdaSeconds = Object.values(sim.lambdas.durations)
      .flat()
      .reduce((a, b) => a + b / 1000, 0);
    let reads = 0;
    let writes = 0;
    for (const [key, stats] of morningCalls) {
      if (!key.startsWith('dynamodb:')) continue;
      if (WRITES.has(key.split(':')[1] ?? '')) writes += stats.calls;
      else reads += stats.calls;
    }
    const cost = {
      fargate: ready.length * labHour,
      lambda: lambdaInvocations * PRICE.lambdaRequest + lambdaSeconds * 0.5 * PRICE.lambdaGbSecond,
      dynamodb: reads * PRICE.dynamoRead + writes * PRICE.dynamoWrite,
      apiGateway: sim.lambdas.invocations.api * PRICE.apiRequest,
      alb: sim.elb.balancers.length * PRICE.albHour,
    };
    const total = Object.values(cost).reduce((a, b) => a + b, 0);

    const callRows = [...morningCalls]
      .filter(([key]) => !key.startsWith('dynamodb:'))
      .sort((a, b) => b[1].calls - a[1].calls)
      .map(([key, stats]) => [key, stats.calls, round(stats.calls / USERS, 2), stats.throttled]);
    const dynamoCalls = [...morningCalls].filter(([key]) => key.startsWith('dynamodb:'));
    callRows.push([
      'dynamodb (all)',
      dynamoCalls.reduce((a, [, s]) => a + s.calls, 0),
      round(dynamoCalls.reduce((a, [, s]) => a + s.calls, 0) / USERS, 2),
      0,
    ]);
    return {
      bench: 'aws-class',
      tables: [
        {
          title: `A class of ${USERS} on AWS mode, simulated (bench/aws-class.ts)`,
          columns: ['measure', 'value'],
          rows: [
            ['students / arrival window', `${USERS} in ${ARRIVAL_S} s`],
            ['load balancers in the pool (the configuration maximum)', sim.elb.balancers.length],
            ['LMS enrolment (PUT /api/v1/users, 25 at a time)', ms(enrolMs)],
            ['start request (portal POST /start) p50', ms(percentile(starts, 50))],
            ['start request p99', ms(percentile(starts, 99))],
            ['ready', `${ready.length} of ${USERS}`],
            ...[...reasons].map(([reason, n]) => [`not ready: ${reason}`, n] as [string, number]),
            ['tasks launched', launches],
            ['RunTask throttled by the Fargate launch rate', sim.ecs.launchesThrottled],
            ['time until all ready (first arrival to last ready)', ms(lastReady)],
            ['floor set by the Fargate launch rate (launches, burst 100, 20/s, + 1.5 s start)', ms(floorMs)],
            ['all ready / floor', ratio(lastReady, floorMs)],
            [
              'task-seconds during the morning',
              JSON.stringify(Object.fromEntries(Object.entries(taskSeconds).map(([k, v]) => [k, round(v)]))),
            ],
          ],
          notes: [
            'The simulated account of test/aws-sim: the four Lambdas run their real entry points and wiring in one process; ELB, ECS, EFS, Cognito and EventBridge are stateful stand-ins, DynamoDB is DynamoDB Local, labs are small fake servers. Task start 1.5 s (provisioning 0.3 s + start 1.2 s), health checks every 0.5 s: timings are scaled, the launch rate is not.',
            'The machine is shared: every latency includes the simulator and DynamoDB Local on the same cores.',
          ],
        },
        {
          title: 'AWS calls during the morning, by API',
          columns: ['API', 'calls', 'per student', 'throttled'],
          rows: callRows,
          notes: [
            'Calls the Lambdas and the test harness made from enrolment done to all ready (SDK retries count as calls).',
          ],
        },
        {
          title: 'Cost of the class-hour (README price table)',
          columns: ['item', 'USD'],
          rows: [
            [`Fargate: ${ready.length} labs x 1 h (0.5 vCPU, 2 GiB, on-demand x86)`, round(cost.fargate, 2)],
            [
              `Lambda: ${lambdaInvocations} invocations, ${round(lambdaSeconds)} s at 512 MB`,
              round(cost.lambda, 4),
            ],
            [`DynamoDB: ${reads} reads, ${writes} writes (on-demand, 1 unit each)`, round(cost.dynamodb, 4)],
            [`API Gateway: ${sim.lambdas.invocations.api} requests`, round(cost.apiGateway, 4)],
            [`ALB: ${sim.elb.balancers.length} balancers x 1 h (LCUs not counted)`, round(cost.alb, 3)],
            ['total', round(total, 2)],
            ['per student', round(total / USERS, 4)],
          ],
          notes: [
            'Fargate Spot would cut the Fargate line by up to 70%. Cognito MAU and EFS storage are monthly and not part of one hour.',
          ],
        },
      ],
      data: {
        outcomes: outcomes.length,
        ready: ready.length,
        starts,
        lastReady,
        floorMs,
        calls: Object.fromEntries(morningCalls),
        cost,
      },
    };
  } finally {
    sim.close();
    await dynamo.stop();
  }
}

type Calls = Map<string, { calls: number; throttled: number }>;

function snapshot(calls: Map<string, { calls: number; throttled: number }>): Calls {
  return new Map([...calls].map(([key, stats]) => [key, { calls: stats.calls, throttled: stats.throttled }]));
}

function diff(after: Calls, before: Calls): Calls {
  return new Map(
    [...after].map(([key, stats]) => [
      key,
      {
        calls: stats.calls - (before.get(key)?.calls ?? 0),
        throttled: stats.throttled - (before.get(key)?.throttled ?? 0),
      },
    ]),
  );
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
