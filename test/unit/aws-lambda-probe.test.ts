import '../support/aws-calls/checked.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LambdaActivityProbe, ProbeFunctionError } from '../../functions/adapters/aws/lambda-probe.ts';
import { LabActivityReader, LabUnreachableError } from '../../functions/adapters/http/activity-probe.ts';
import { DependencyTimeoutError } from '../../functions/core/errors.ts';
import type { Session } from '../../functions/core/session.ts';
import { makeLabProbeHandler } from '../../functions/handlers/lab-probe.ts';

/**
 * The culler outside the VPC reads labs through the probe function. Here the probe
 * function is the real handler (over HTTP to labs served on loopback), reached through a
 * mocked Lambda Invoke that carries the payload as bytes, as Lambda does.
 */
const lambdaMock = mockClient(LambdaClient);
let labs: Server;
let port: number;
const FUNCTION = 'test-hubless-Schedules-LabProbe';

beforeAll(async () => {
  // One lab server answers for every user: /user/<name>/api/status says when <name> was last active;
  // "hung" never answers.
  labs = createServer((req, res) => {
    const [, , user, , endpoint] = (req.url ?? '').split('?')[0]?.split('/') ?? [];
    if (user === 'hung') return;
    if (req.headers.authorization !== `token token-${user}`) {
      res.writeHead(403).end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (endpoint === 'status')
      res.end(JSON.stringify({ last_activity: `2026-12-01T10:00:00.000Z`, connections: user?.length ?? 0 }));
    else res.end('[]');
  });
  await new Promise<void>((resolve) => labs.listen(0, '127.0.0.1', resolve));
  port = (labs.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => labs.close(resolve)));

let invocations: number[];
/** Generous, so a loaded machine does not turn slow answers into timeouts; the hung-lab test shortens it. */
let readerTimeoutMs: number;
beforeEach(() => {
  lambdaMock.reset();
  invocations = [];
  readerTimeoutMs = 15_000;
  lambdaMock.on(InvokeCommand).callsFake(async ({ FunctionName, Payload }) => {
    const handler = makeLabProbeHandler(new LabActivityReader({ timeoutMs: readerTimeoutMs }));
    expect(FunctionName).toBe(FUNCTION);
    const batch = JSON.parse(new TextDecoder().decode(Payload));
    invocations.push(batch.probes.length);
    const result = await handler(batch);
    return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(result)) };
  });
});

function session(user: string, target = { host: '127.0.0.1', port }): Session {
  return {
    id: `${user}__n1`,
    user,
    server: '',
    profile: 'small',
    state: 'ready',
    version: 3,
    createdAt: '2026-12-01T09:00:00.000Z',
    updatedAt: '2026-12-01T09:00:00.000Z',
    target,
    events: [],
  };
}

/** Invoke's answer payload (the SDK wraps the bytes in a blob adapter; the adapter only reads the bytes). */
function bytes(text: string) {
  return new TextEncoder().encode(text) as never;
}

/** Tokens as the control plane derives them; this fake derives "token-<user>" from "<user>__n1". */
const labTokens = { tokenFor: async (sessionId: string) => `token-${sessionId.split('__')[0]}` };

function probe(batchSize?: number) {
  return new LambdaActivityProbe({
    labTokens,
    lambda: new LambdaClient({ region: 'eu-west-1' }),
    functionName: FUNCTION,
    batchSize,
  });
}

describe('LambdaActivityProbe through the in-VPC probe function', () => {
  it('reads every lab of a sweep in batches of 25, each lab its own answer', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `user${'x'.repeat(i)}`);
    const results = await Promise.all(users.map((user) => probe().probe(session(user))));
    // One probe object per sweep is what the wiring builds; here 30 objects each flush alone.
    expect(results.map((r) => r.connections)).toEqual(users.map((u) => u.length));
    const shared = probe();
    invocations = [];
    const again = await Promise.all(users.map((user) => shared.probe(session(user))));
    expect(again.map((r) => r.lastActivity)).toEqual(users.map(() => '2026-12-01T10:00:00.000Z'));
    expect(invocations).toEqual([25, 5]);
  });

  it('tells a lab that does not answer in time from one that cannot be reached, and spares the others', async () => {
    readerTimeoutMs = 1000;
    const shared = probe();
    const closed = { host: '127.0.0.1', port: 1 };
    const [hung, gone, fine] = await Promise.allSettled([
      shared.probe(session('hung')),
      shared.probe(session('gone', closed)),
      shared.probe(session('fine')),
    ]);
    expect(hung.status === 'rejected' && hung.reason).toBeInstanceOf(DependencyTimeoutError);
    expect(gone.status === 'rejected' && gone.reason).toBeInstanceOf(LabUnreachableError);
    expect(fine.status === 'fulfilled' && fine.value.connections).toBe(4);
    expect(invocations).toEqual([3]);
  });

  it('counts a lab whose token is refused as unreachable, naming the token', async () => {
    const wrong = { ...session('alice'), id: 'bob__n1' };
    await expect(probe().probe(wrong)).rejects.toThrow(/does not accept the control plane token/);
  });

  it('fails every lab of the batch, naming the function, when the probe function itself fails', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: bytes('{"errorMessage":"Task timed out after 15.00 seconds"}'),
    });
    const shared = probe();
    const outcomes = await Promise.allSettled([shared.probe(session('a')), shared.probe(session('b'))]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(ProbeFunctionError);
      expect(String(reason.message)).toMatch(new RegExp(`${FUNCTION} failed \\(Unhandled\\).*timed out`));
    }
  });

  it('refuses an answer that does not have one result per lab', async () => {
    lambdaMock.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: bytes(JSON.stringify({ results: [] })),
    });
    await expect(probe().probe(session('a'))).rejects.toThrow(/answered 0 results for 1 labs/);
  });

  it('reports an Invoke the API refused (throttled, not allowed) as a probe failure', async () => {
    lambdaMock
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    await expect(probe().probe(session('a'))).rejects.toThrow(/could not be invoked: Rate exceeded/);
  });
});
