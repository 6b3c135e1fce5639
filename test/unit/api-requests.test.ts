import { beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { putUserBody } from '../../functions/core/api/schemas.ts';
import { describeJsonError } from '../../functions/handlers/api/http.ts';
import { makeApiHandler } from '../../functions/handlers/api.ts';
import { type ApiKit, makeApiKit } from '../fakes/api-harness.ts';
import { checkSchema } from '../fakes/api-openapi-check.ts';

describe('API requests', () => {
  let kit: ApiKit;
  beforeEach(async () => {
    kit = await makeApiKit();
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate without a token', async () => {
      const answer = await kit.call('GET', '/api/v1/users');
      expect(answer.status).toBe(401);
      expect(answer.json.error.code).toBe('unauthorized');
      expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="hubless"/);
    });

    it('answers 401 for a token signed by someone else, or expired', async () => {
      const forged = await kit.call('GET', '/api/v1/users', {
        token: await kit.issuer.forged({ scope: 'users:read' }),
      });
      expect(forged.status).toBe(401);
      expect(forged.json.error.message).toMatch(/signature/);
      const expired = await kit.issuer.token(
        { scope: 'users:read' },
        { expiresIn: Math.floor(Date.now() / 1000) - 60 },
      );
      expect((await kit.call('GET', '/api/v1/users', { token: expired })).json.error.message).toMatch(
        /expired/,
      );
    });

    it('accepts "token <jwt>" like JupyterHub and refuses other schemes', async () => {
      const token = await kit.token('users:read');
      expect((await kit.call('GET', '/api/v1/users', { authorization: `token ${token}` })).status).toBe(200);
      expect((await kit.call('GET', '/api/v1/users', { authorization: `Basic ${token}` })).status).toBe(401);
    });

    it('trusts claims from API Gateway’s JWT authorizer without verifying again', async () => {
      const answer = await kit.call('GET', '/api/v1/users', {
        claims: { client_id: 'canvas', scope: 'hubless/users:read' },
      });
      expect(answer.status).toBe(200);
      expect(kit.issuer.fetcher.requests).toEqual([]);
    });
  });

  describe('bodies', () => {
    it('answers 400 saying where malformed JSON broke', async () => {
      const answer = await kit.call('PUT', '/api/v1/users/ada', {
        token: await kit.token(),
        rawBody: '{\n  "email": "a@b.edu",\n}',
      });
      expect(answer.status).toBe(400);
      expect(answer.json.error).toEqual({
        code: 'invalid_json',
        message: expect.stringContaining('line 3, column 1'),
      });
    });

    it('answers 413 for a body over 64 KiB', async () => {
      const answer = await kit.call('PUT', '/api/v1/users/ada', {
        token: await kit.token(),
        rawBody: JSON.stringify({ email: 'x'.repeat(70_000) }),
      });
      expect(answer.status).toBe(413);
      expect(answer.json.error.code).toBe('payload_too_large');
    });

    it('refuses a body on a route that takes none', async () => {
      expect(
        (await kit.call('GET', '/api/v1/users/ada', { token: await kit.token(), body: { x: 1 } })).status,
      ).toBe(400);
    });
  });

  describe('routing', () => {
    it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
      const token = await kit.token();
      expect((await kit.call('GET', '/api/v1/nope', { token })).status).toBe(404);
      const wrong = await kit.call('PATCH', '/api/v1/users/ada', { token });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.allow).toBe('GET, PUT, DELETE');
    });
  });

  describe('describeJsonError', () => {
    it('names the line and column and what was expected', () => {
      expect(describeJsonError('{"a":}')).toBe('expected a value at line 1, column 6, found "}"');
      expect(describeJsonError('[1, 2')).toBe(
        'expected "," or "]" at line 1, column 6, found the end of the body',
      );
      expect(describeJsonError('{"a": 1} x')).toMatch(/expected the end of the body at line 1, column 10/);
    });
  });

  describe('GET /openapi.json', () => {
    it('names the API Gateway host it was called at as the server in AWS, not the browsers’ domain', async () => {
      const handler = makeApiHandler(kit.deps);
      const answer = await handler({
        version: '2.0',
        routeKey: 'GET /api/v1/openapi.json',
        rawPath: '/api/v1/openapi.json',
        rawQueryString: '',
        headers: {},
        requestContext: {
          http: { method: 'GET', path: '/api/v1/openapi.json' },
          domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
        },
        isBase64Encoded: false,
      });
      expect(JSON.parse(answer.body ?? '{}').servers).toEqual([
        { url: 'https://abc123.execute-api.us-east-1.amazonaws.com/api/v1' },
      ]);
    });

    it('serves an OpenAPI 3.1 document without authentication, built from the request schemas', async () => {
      const answer = await kit.call('GET', '/api/v1/openapi.json');
      expect(answer.status).toBe(200);
      const doc = answer.json;
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.servers).toEqual([{ url: 'https://labs.example.edu/api/v1' }]);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/users',
          '/users/{user}',
          '/users/{user}/server',
          '/servers',
          '/users/{user}/launch',
          '/usage',
          '/events',
        ]),
      );
      expect(doc.paths['/users/{user}/server'].post.security).toEqual([{ oauth2: ['servers:write'] }]);
      // The documented request body is the validator's own schema: it refuses what validation refuses.
      const bodySchema = doc.paths['/users/{user}'].put.requestBody.content['application/json'].schema;
      const { $schema: _, ...expected } = z.toJSONSchema(putUserBody, { io: 'input' });
      expect(bodySchema).toEqual(expected);
      expect(bodySchema.additionalProperties).toBe(false);
      expect(checkSchema(bodySchema, { email: 'a@b.edu', groups: ['cs101'] })).toEqual([]);
      expect(checkSchema(bodySchema, { admin: true })).not.toEqual([]);
      const limit = doc.paths['/servers'].get.parameters.find((p: { name: string }) => p.name === 'limit');
      expect(limit).toMatchObject({ in: 'query', required: false, schema: { maximum: 1000 } });
    });
  });
});
