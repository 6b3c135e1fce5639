import middy from '@middy/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JsonLogger } from '../../functions/adapters/log/json-logger.ts';
import type { LogLevel } from '../../functions/core/log.ts';
import type { AlbEvent, HttpApiEvent } from '../../functions/handlers/http-types.ts';
import { invocationLog, lastResort } from '../../functions/lambda/middleware.ts';

/**
 * The Lambda entry points (functions/lambda): what a Lambda adds around a handler. The
 * environment here has none of the settings the stacks set, which is what a broken
 * deployment looks like: the deps cannot be built on the first event.
 */

function lambdaContext(requestId: string) {
  return { awsRequestId: requestId, getRemainingTimeInMillis: () => 29_000 } as never;
}

function albEvent(path: string): AlbEvent {
  return {
    requestContext: { elb: { targetGroupArn: 'arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/p/1' } },
    httpMethod: 'GET',
    path,
    headers: { host: 'labs.example.edu', 'x-amzn-trace-id': 'Root=1-abc-def' },
    queryStringParameters: {},
    body: null,
    isBase64Encoded: false,
  };
}

function apiEvent(path: string): HttpApiEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {},
    requestContext: { http: { method: 'GET', path }, requestId: 'apigw-req-7' },
    isBase64Encoded: false,
  };
}

/** Every JSON line the default logger wrote to stdout and stderr. */
function captureLines(): { lines: () => Array<Record<string, unknown>> } {
  const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const parsed = (calls: unknown[][]) =>
    calls.flatMap(([line]) => {
      try {
        return [JSON.parse(String(line)) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  return { lines: () => [...parsed(out.mock.calls), ...parsed(err.mock.calls)] };
}

describe('Lambda entry points', () => {
  beforeEach(() => {
    for (const name of Object.keys(process.env)) if (name.startsWith('HUBLESS_')) vi.stubEnv(name, undefined);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('answers the portal’s error page, not a bare 502, when the settings do not parse, and logs why with the request id', async () => {
    const output = captureLines();
    const { handler } = await import('../../functions/lambda/portal.ts');
    const result = await handler(albEvent('/'), lambdaContext('req-portal-1'));
    expect(result.statusCode).toBe(500);
    expect(result.headers?.['content-type']).toMatch(/text\/html/);
    expect(result.body).toContain('hubless hit an internal error');
    expect(result.body).not.toContain('HUBLESS_');
    const logged = output.lines().find((line) => line.level === 'error');
    expect(logged).toMatchObject({ requestId: 'req-portal-1', correlationId: 'Root=1-abc-def' });
    expect(String(logged?.error)).toContain('Invalid Lambda configuration');
  });

  it('answers each API in its own error shape when the settings do not parse', async () => {
    captureLines();
    const { handler } = await import('../../functions/lambda/api.ts');
    const ours = await handler(apiEvent('/api/v1/users'), lambdaContext('req-api-1'));
    expect(ours.statusCode).toBe(500);
    expect(JSON.parse(ours.body ?? '')).toMatchObject({ error: { code: 'internal' } });
    const hub = await handler(apiEvent('/hub/api/users'), lambdaContext('req-api-2'));
    expect(hub.statusCode).toBe(500);
    expect(JSON.parse(hub.body ?? '')).toMatchObject({ status: 500 });
  });

  it('lets an event function fail (so EventBridge retries) after logging the error with the request id', async () => {
    const output = captureLines();
    const { handler } = await import('../../functions/lambda/task-events.ts');
    const event = {
      id: 'event-42',
      'detail-type': 'ECS Task State Change' as const,
      source: 'aws.ecs' as const,
      detail: { taskArn: 'arn:aws:ecs:eu-west-1:1:task/c/t', lastStatus: 'RUNNING' },
    };
    await expect(handler(event, lambdaContext('req-events-1'))).rejects.toThrow(
      /Invalid Lambda configuration/,
    );
    expect(output.lines().find((line) => line.message === 'invocation failed')).toMatchObject({
      level: 'error',
      requestId: 'req-events-1',
      correlationId: 'event-42',
    });
  });
});

describe('invocationLog', () => {
  it('puts the request id, the cold start and the correlation id on the lines of one invocation only', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = new JsonLogger({ write: (line) => lines.push(JSON.parse(line)) });
    const handler = middy<{ id: string }>()
      .use(invocationLog<{ id: string }>(logger, (event) => event.id))
      .handler(async () => logger.log('info', 'inside'));
    await handler({ id: 'first' }, lambdaContext('req-1'));
    await handler({ id: 'second' }, lambdaContext('req-2'));
    logger.log('info', 'between invocations');
    expect(lines[0]).toMatchObject({ message: 'inside', requestId: 'req-1', correlationId: 'first' });
    expect(lines[1]).toMatchObject({
      message: 'inside',
      requestId: 'req-2',
      correlationId: 'second',
      coldStart: false,
    });
    expect(lines[2]).not.toHaveProperty('requestId');
  });

  it('clears the context when the handler throws', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = new JsonLogger({ write: (line) => lines.push(JSON.parse(line)) });
    const handler = middy<{ id: string }>()
      .use(invocationLog<{ id: string }>(logger, (event) => event.id))
      .use(lastResort<{ id: string }, unknown>(logger))
      .handler(async () => {
        throw new Error('boom');
      });
    await expect(handler({ id: 'x' }, lambdaContext('req-3'))).rejects.toThrow('boom');
    logger.log('info', 'after');
    expect(lines[0]).toMatchObject({ level: 'error', message: 'invocation failed', requestId: 'req-3' });
    expect(lines[1]).not.toHaveProperty('requestId');
  });
});

describe('JsonLogger', () => {
  it('drops lines below its level (HUBLESS_LOG_LEVEL) and writes one JSON object per line', () => {
    const written: Array<[string, LogLevel]> = [];
    const logger = new JsonLogger({ level: 'warn', write: (line, level) => written.push([line, level]) });
    logger.log('debug', 'noise');
    logger.log('info', 'routine');
    logger.log('warn', 'odd', { user: 'ada' });
    logger.log('error', 'broken');
    expect(written.map(([, level]) => level)).toEqual(['warn', 'error']);
    expect(JSON.parse(written[0]?.[0] ?? '')).toMatchObject({ level: 'warn', message: 'odd', user: 'ada' });
    expect(JSON.parse(written[0]?.[0] ?? '').time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes errors to stderr and the rest to stdout', () => {
    const out = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const logger = new JsonLogger({ level: 'debug' });
    logger.log('debug', 'detail');
    logger.log('error', 'broken');
    expect(out).toHaveBeenCalledTimes(1);
    expect(err).toHaveBeenCalledTimes(1);
    vi.restoreAllMocks();
  });
});
