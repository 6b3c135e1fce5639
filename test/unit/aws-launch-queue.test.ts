import '../support/aws-calls/checked.ts';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeLaunchMessage,
  encodeLaunchMessage,
  SqsLaunchQueue,
} from '../../functions/adapters/aws/sqs-launch-queue.ts';
import type { LaunchCounter, LaunchCounts } from '../../functions/adapters/dynamodb/launch-counter.ts';
import { ThrottledError } from '../../functions/core/errors.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { makeLauncherHandler } from '../../functions/handlers/launcher.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';

const sqsMock = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/hubless-test-LaunchQueue';

/** The counters as DynamoDB keeps them (dynamodb/launch-counter.ts), in memory. */
function memoryCounter(): LaunchCounter & { counts: LaunchCounts } {
  const counts: LaunchCounts = { queued: 0, taken: 0 };
  return {
    counts,
    async add(counter: keyof LaunchCounts, count: number) {
      counts[counter] += count;
      return counts[counter];
    },
    async read() {
      return { ...counts };
    },
  } as unknown as LaunchCounter & { counts: LaunchCounts };
}

function queue(counter = memoryCounter()) {
  return { counter, queue: new SqsLaunchQueue({ sqs: new SQSClient({}), queueUrl: QUEUE_URL, counter }) };
}

describe('SqsLaunchQueue', () => {
  beforeEach(() => sqsMock.reset());

  it('sends one message per launch, naming the session and its ticket, and returns the ticket', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
    const { queue: q } = queue();
    expect(await q.enqueue('ann__a1')).toBe(1);
    expect(await q.enqueue('bob__b1')).toBe(2);
    const sent = sqsMock.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
    expect(sent).toEqual([
      { QueueUrl: QUEUE_URL, MessageBody: encodeLaunchMessage({ sessionId: 'ann__a1', ticket: 1 }) },
      { QueueUrl: QUEUE_URL, MessageBody: encodeLaunchMessage({ sessionId: 'bob__b1', ticket: 2 }) },
    ]);
  });

  it('counts the places ahead from the tickets the launcher has taken', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
    const { queue: q } = queue();
    for (const id of ['a__1', 'b__1', 'c__1', 'd__1']) await q.enqueue(id);
    expect(await q.ahead(4)).toBe(3);
    await q.taken(2);
    expect(await q.ahead(4)).toBe(1);
    await q.taken(5);
    expect(await q.ahead(4)).toBe(0);
  });

  it('counts out a ticket whose message could not be sent, so later places stay right, and says AWS is busy', async () => {
    sqsMock
      .on(SendMessageCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { queue: q, counter } = queue();
    await expect(q.enqueue('ann__a1')).rejects.toBeInstanceOf(ThrottledError);
    expect(counter.counts).toEqual({ queued: 1, taken: 1 });
    expect(await q.ahead(2)).toBe(0);
  });

  it('reads back only messages it wrote', () => {
    expect(decodeLaunchMessage(encodeLaunchMessage({ sessionId: 'ann__a1', ticket: 3 }))).toEqual({
      sessionId: 'ann__a1',
      ticket: 3,
    });
    for (const body of ['', 'not json', '{}', '{"v":2,"sessionId":"ann__a1"}', '{"v":1,"sessionId":""}'])
      expect(decodeLaunchMessage(body), body).toBeUndefined();
  });
});

describe('the launcher handler (SQS event source)', () => {
  const computes: FakeCompute[] = [];
  afterEach(() => {
    for (const compute of computes.splice(0)) compute.dispose();
  });

  function setup(compute = new FakeCompute({ behaviour: { kind: 'never-starts' } })) {
    computes.push(compute);
    const taken: number[] = [];
    const deps = makeTestDeps({
      compute,
      launches: {
        enqueue: async () => 1,
        ahead: async () => 0,
        taken: async (count) => void taken.push(count),
      },
    });
    return { deps, compute, taken, launcher: makeLauncherHandler(deps) };
  }
  const record = (messageId: string, sessionId: string, receives = 1) => ({
    messageId,
    body: encodeLaunchMessage({ sessionId }),
    attributes: { ApproximateReceiveCount: String(receives) },
  });

  it('launches every session of the batch, counts first deliveries, and drops a message it cannot read', async () => {
    const { deps, compute, taken, launcher } = setup();
    const ann = (await startServer(deps, { user: 'ann', server: '', groups: [] })).session;
    const bob = (await startServer(deps, { user: 'bob', server: '', groups: [] })).session;
    const result = await launcher({
      Records: [record('m1', ann.id), record('m2', bob.id, 2), { messageId: 'm3', body: 'garbage' }],
    });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(compute.calls.start.map((spec) => spec.user).sort()).toEqual(['ann', 'bob']);
    expect(taken).toEqual([1]);
    expect((await deps.store.get('ann', ''))?.state).toBe('launching');
  });

  it('hands back only the launch AWS was too busy for; its redelivery launches it, a duplicate does nothing', async () => {
    let throttle = true;
    const compute = new FakeCompute({ behaviour: { kind: 'never-starts' } });
    const realStart = compute.start.bind(compute);
    compute.start = async (spec) => {
      if (throttle && spec.user === 'bob') throw new ThrottledError('Rate exceeded');
      return realStart(spec);
    };
    const { deps, launcher } = setup(compute);
    const ann = (await startServer(deps, { user: 'ann', server: '', groups: [] })).session;
    const bob = (await startServer(deps, { user: 'bob', server: '', groups: [] })).session;
    expect(await launcher({ Records: [record('m1', ann.id), record('m2', bob.id)] })).toEqual({
      batchItemFailures: [{ itemIdentifier: 'm2' }],
    });
    expect((await deps.store.get('bob', ''))?.state).toBe('pending');
    throttle = false;
    expect(await launcher({ Records: [record('m2', bob.id, 2), record('m1', ann.id, 2)] })).toEqual({
      batchItemFailures: [],
    });
    expect(compute.calls.start.map((spec) => spec.user).sort()).toEqual(['ann', 'bob']);
  });
});
