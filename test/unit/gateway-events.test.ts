import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  toAlbEvent,
  toHttpApiEvent,
  writeAlbResult,
  writeHttpApiResult,
} from '../../functions/local/gateway/lambda-events.ts';
import { ExpiringStore, readCookie, serializeCookie } from '../../functions/local/gateway/sessions.ts';

function request(method: string, url: string, headers: Record<string, string | string[]>): IncomingMessage {
  return {
    method,
    url,
    headers,
    httpVersion: '1.1',
    socket: { remoteAddress: '127.0.0.1' },
  } as unknown as IncomingMessage;
}

function response() {
  const written: {
    status?: number;
    message?: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer;
  } = {};
  const res = {
    writeHead(status: number, message: string | undefined, headers: Record<string, string | string[]>) {
      written.status = status;
      written.message = message;
      written.headers = headers ?? message;
      return res;
    },
    end(body: Buffer) {
      written.body = body;
    },
  };
  return { res: res as unknown as ServerResponse, written };
}

describe('gateway Lambda events', () => {
  describe('toAlbEvent', () => {
    it('passes method, path and query as the ALB does, without decoding the query', () => {
      const event = toAlbEvent(
        request('GET', '/user/alice/?next=%2Flab&a=1&a=2', { host: 'h' }),
        Buffer.alloc(0),
        { host: 'h' },
      );
      expect(event.httpMethod).toBe('GET');
      expect(event.path).toBe('/user/alice/');
      expect(event.queryStringParameters).toEqual({ next: '%2Flab', a: '2' });
      expect(event.requestContext.elb.targetGroupArn).toMatch(/^arn:aws:elasticloadbalancing:/);
    });

    it('sends a form body as text and an image as base64', () => {
      const form = toAlbEvent(request('POST', '/start', {}), Buffer.from('profile=small'), {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(form).toMatchObject({ body: 'profile=small', isBase64Encoded: false });
      const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff]);
      const image = toAlbEvent(request('POST', '/upload', {}), png, { 'content-type': 'image/png' });
      expect(image.isBase64Encoded).toBe(true);
      expect(Buffer.from(image.body ?? '', 'base64')).toEqual(png);
    });

    it('lower-cases header names and keeps the last of repeated values', () => {
      const req = request('GET', '/', { 'x-thing': ['a', 'b'] });
      const event = toAlbEvent(req, Buffer.alloc(0));
      expect(event.headers['x-thing']).toBe('b');
    });
  });

  describe('writeAlbResult', () => {
    it('writes every Set-Cookie of multiValueHeaders and decodes a base64 body', () => {
      const { res, written } = response();
      writeAlbResult(res, {
        statusCode: 201,
        headers: { 'Content-Type': 'text/plain' },
        multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
        body: Buffer.from('hello').toString('base64'),
        isBase64Encoded: true,
      });
      expect(written.status).toBe(201);
      expect(written.headers?.['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(written.headers?.['content-type']).toBe('text/plain');
      expect(written.body?.toString()).toBe('hello');
      expect(written.headers?.['content-length']).toBe('5');
    });
  });

  describe('toHttpApiEvent', () => {
    it('builds a payload 2.0 event with decoded query, cookies and the raw path', () => {
      const req = request('POST', '/api/v1/sessions?user=al%20ice&x=1&x=2', {
        cookie: 'a=1; b=2',
        authorization: 'Bearer t',
      });
      const event = toHttpApiEvent(req, Buffer.from('{"a":1}'), {
        authorization: 'Bearer t',
        'content-type': 'application/json',
      });
      expect(event).toMatchObject({
        version: '2.0',
        routeKey: '$default',
        rawPath: '/api/v1/sessions',
        rawQueryString: 'user=al%20ice&x=1&x=2',
        cookies: ['a=1', 'b=2'],
        queryStringParameters: { user: 'al ice', x: '1,2' },
        body: '{"a":1}',
        isBase64Encoded: false,
      });
      expect(event.requestContext.http.method).toBe('POST');
      expect(event.headers.authorization).toBe('Bearer t');
    });
  });

  describe('writeHttpApiResult', () => {
    it('turns cookies into Set-Cookie headers and defaults to JSON', () => {
      const { res, written } = response();
      writeHttpApiResult(res, { statusCode: 202, cookies: ['s=1'], body: '{}' });
      expect(written.status).toBe(202);
      expect(written.headers?.['set-cookie']).toEqual(['s=1']);
      expect(written.headers?.['content-type']).toBe('application/json');
    });
  });
});

describe('gateway sessions', () => {
  describe('ExpiringStore', () => {
    it('forgets expired items and drops the oldest when full', () => {
      const store = new ExpiringStore<{ id: string; expiresAt: number }>(2);
      store.set({ id: 'a', expiresAt: 1_000 }, 0);
      store.set({ id: 'b', expiresAt: 5_000 }, 0);
      expect(store.get('a', 2_000)).toBeUndefined();
      store.set({ id: 'c', expiresAt: 5_000 }, 0);
      store.set({ id: 'd', expiresAt: 5_000 }, 0);
      expect(store.size).toBe(2);
      expect(store.get('d', 0)).toBeDefined();
    });
  });

  describe('cookies', () => {
    it('reads one cookie among several', () => {
      expect(readCookie('a=1; hubless_session=xyz; b=2', 'hubless_session')).toBe('xyz');
      expect(readCookie('hubless_session_other=1', 'hubless_session')).toBeUndefined();
      expect(readCookie(undefined, 'x')).toBeUndefined();
    });

    it('writes HttpOnly, SameSite=Lax cookies, Secure on HTTPS', () => {
      expect(serializeCookie('n', 'v', { maxAge: 60 })).toBe(
        'n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60',
      );
      expect(serializeCookie('n', 'v', { secure: true })).toMatch(/; Secure$/);
    });
  });
});
