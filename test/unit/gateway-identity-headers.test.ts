import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newSessionId } from '../../functions/core/session.ts';
import { IdentityHeaders, ownsRoute } from '../../functions/local/gateway/identity-headers.ts';
import {
  type BrowserSession,
  ExpiringStore,
  randomId,
  readCookie,
  serializeCookie,
} from '../../functions/local/gateway/sessions.ts';
import type { IdentityClaims, IdentitySigner } from '../../functions/local/identity-signer.ts';

/** A signer that records what it signs and answers `signed-<n>`. */
function recordingSigner() {
  const calls: Array<{ claims: IdentityClaims; ttl: number | undefined }> = [];
  const signer: IdentitySigner = {
    kid: '0b6f8e1c-5a3d-4c1e-9f7a-2d4b6c8e0a12',
    publicKeyPem: '-----BEGIN PUBLIC KEY-----\nkey\n-----END PUBLIC KEY-----\n',
    signerArn: 'arn:local',
    issuer: 'http://127.0.0.1/issuer',
    clientId: 'gateway',
    async sign(claims, ttl) {
      calls.push({ claims, ttl });
      return `signed-${calls.length}`;
    },
  };
  return { signer, calls };
}

const request = (headers: Record<string, string | string[]>, url = '/user/alice/lab') =>
  ({ headers, url, method: 'GET', socket: { remoteAddress: '10.0.0.9' } }) as unknown as IncomingMessage;

/** What the gateway adds to every forwarded request (front-door.ts). */
const FORWARDED = { 'x-forwarded-for': '10.0.0.9', 'x-forwarded-proto': 'http' };

const session = (over: Partial<BrowserSession> = {}): BrowserSession => ({
  id: 's1',
  sid: 'sid-1',
  sub: 'sub-alice',
  username: 'alice',
  email: 'alice@example.org',
  createdAt: 0,
  expiresAt: Number.MAX_SAFE_INTEGER,
  checkedAt: 0,
  ...over,
});

function response() {
  const seen = { status: 0, headers: {} as Record<string, unknown>, body: '' };
  const res = {
    headersSent: false,
    setHeader: (name: string, value: unknown) => {
      seen.headers[name.toLowerCase()] = value;
    },
    writeHead(status: number, headers: Record<string, unknown> = {}) {
      seen.status = status;
      for (const [k, v] of Object.entries(headers)) seen.headers[k.toLowerCase()] = v;
      return res;
    },
    end(body?: string) {
      seen.body = body ?? '';
    },
  };
  return { res: res as unknown as ServerResponse, seen };
}

afterEach(() => vi.restoreAllMocks());

describe('IdentityHeaders', () => {
  describe('forHandler', () => {
    it('drops identity headers sent by the client and adds the signed identity of the session', async () => {
      const { signer, calls } = recordingSigner();
      const headers = await new IdentityHeaders(signer, 'http').forHandler(
        request({ accept: 'text/html', 'x-amzn-oidc-data': 'forged', 'x-amzn-oidc-accesstoken': 'forged' }),
        session(),
      );
      expect(headers).toEqual({
        accept: 'text/html',
        ...FORWARDED,
        'x-amzn-oidc-data': 'signed-1',
        'x-amzn-oidc-identity': 'sub-alice',
      });
      expect(calls).toEqual([
        {
          claims: { sub: 'sub-alice', username: 'alice', sid: 'sid-1', email: 'alice@example.org' },
          ttl: 120,
        },
      ]);
    });

    it('adds no identity without a session, and still drops the client’s', async () => {
      const { signer, calls } = recordingSigner();
      const headers = await new IdentityHeaders(signer, 'http').forHandler(
        request({ 'x-amzn-oidc-data': 'forged', 'x-amzn-oidc-identity': 'alice', host: 'h' }),
      );
      expect(headers).toEqual({ host: 'h', ...FORWARDED, 'x-forwarded-host': 'h' });
      expect(calls).toHaveLength(0);
    });

    it('leaves out headers that have no value', async () => {
      const { signer } = recordingSigner();
      const headers = await new IdentityHeaders(signer, 'http').forHandler(
        request({ accept: '*/*', 'x-gone': undefined as unknown as string }),
      );
      expect(Object.keys(headers)).toEqual(['accept', 'x-forwarded-for', 'x-forwarded-proto']);
    });

    it('signs no email claim when the user has none', async () => {
      const { signer, calls } = recordingSigner();
      await new IdentityHeaders(signer, 'http').forHandler(request({}), session({ email: undefined }));
      expect(calls[0]?.claims).toEqual({ sub: 'sub-alice', username: 'alice', sid: 'sid-1' });
    });

    it('keeps the last value of a repeated header, as a Lambda event does', async () => {
      const { signer } = recordingSigner();
      const headers = await new IdentityHeaders(signer, 'http').forHandler(
        request({ 'x-multi': ['a', 'b', 'c'] }),
      );
      expect(headers['x-multi']).toBe('c');
      const empty = await new IdentityHeaders(signer, 'http').forHandler(request({ 'x-empty': [] }));
      expect(empty['x-empty']).toBe('');
    });

    it('reuses a signature until half its lifetime (60 s) has passed, then signs again', async () => {
      const { signer, calls } = recordingSigner();
      const identity = new IdentityHeaders(signer, 'http');
      const now = vi.spyOn(Date, 'now').mockReturnValue(1_000_000);
      const s = session();
      expect((await identity.forHandler(request({}), s))['x-amzn-oidc-data']).toBe('signed-1');
      now.mockReturnValue(1_000_000 + 59_999);
      expect((await identity.forHandler(request({}), s))['x-amzn-oidc-data']).toBe('signed-1');
      now.mockReturnValue(1_000_000 + 60_000);
      expect((await identity.forHandler(request({}), s))['x-amzn-oidc-data']).toBe('signed-2');
      expect(s.signed).toEqual({
        value: 'signed-2',
        renewAfter: 1_000_000 + 120_000,
        expiresAt: 1_000_000 + 60_000 + 120_000,
      });
      expect(calls).toHaveLength(2);
    });
  });

  describe('forLab', () => {
    it('removes the gateway’s and the provider’s cookies (and their .sig twins), keeping the lab’s', async () => {
      const { signer } = recordingSigner();
      const cookie = [
        'hubless_session=s',
        'lab=1',
        'hubless_auth=a',
        'hubless_oidc_session=o',
        'hubless_oidc_session.sig=x',
        'hubless_oidc_interaction_resume=r',
        'hubless_session2=kept',
        'my_hubless_session=kept',
        '_xsrf=t',
      ].join('; ');
      const headers = await new IdentityHeaders(signer, 'http').forLab(request({ cookie }), session());
      expect(headers.cookie).toBe('lab=1; hubless_session2=kept; my_hubless_session=kept; _xsrf=t');
      expect(headers['x-amzn-oidc-data']).toBe('signed-1');
    });

    it('drops the cookie header when only gateway cookies were sent', async () => {
      const { signer } = recordingSigner();
      const headers = await new IdentityHeaders(signer, 'http').forLab(
        request({ cookie: 'hubless_session=s;  ; hubless_auth=a', accept: '*/*' }),
        session(),
      );
      expect(headers).not.toHaveProperty('cookie');
      expect(headers.accept).toBe('*/*');
    });

    it('forwards requests without cookies unchanged apart from identity', async () => {
      const { signer } = recordingSigner();
      const headers = await new IdentityHeaders(signer, 'http').forLab(request({ accept: '*/*' }), session());
      expect(headers).toEqual({
        accept: '*/*',
        ...FORWARDED,
        'x-amzn-oidc-data': 'signed-1',
        'x-amzn-oidc-identity': 'sub-alice',
      });
    });
  });

  describe('serveKey', () => {
    it('answers its key id with the PEM, as the ALB’s key server does', () => {
      const { signer } = recordingSigner();
      const { res, seen } = response();
      new IdentityHeaders(signer, 'http').serveKey(request({}), res, encodeURIComponent(signer.kid));
      expect(seen.status).toBe(200);
      expect(seen.body).toBe(signer.publicKeyPem);
      expect(seen.headers).toMatchObject({
        'content-type': 'application/x-pem-file',
        'cache-control': 'public, max-age=3600',
        'x-content-type-options': 'nosniff',
      });
    });

    it('answers 404 for any other key id', () => {
      const { signer } = recordingSigner();
      const { res, seen } = response();
      const script = request(
        { accept: 'application/json', 'sec-fetch-dest': 'empty' },
        '/.hubless/alb-keys/other',
      );
      new IdentityHeaders(signer, 'http').serveKey(script, res, 'other');
      expect(seen.status).toBe(404);
      expect(seen.body).not.toContain('BEGIN PUBLIC KEY');
      expect(JSON.parse(seen.body)).toMatchObject({ error: { code: 'not_found', message: 'No such key.' } });
    });

    it('shows a browser loading another key id a “Not found” page', () => {
      const { signer } = recordingSigner();
      const { res, seen } = response();
      const page = request(
        { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' },
        '/.hubless/alb-keys/other',
      );
      new IdentityHeaders(signer, 'http').serveKey(page, res, 'other');
      expect(seen.status).toBe(404);
      expect(seen.body).toContain('<h1>Not found</h1>');
      expect(seen.body).toContain('No such key.');
    });
  });
});

describe('ownsRoute', () => {
  const route = (user: string, server = '') => newSessionId(user, server, 'n1');

  it('lets the owner reach her default and named servers', () => {
    expect(ownsRoute(session(), route('alice'))).toBe(true);
    expect(ownsRoute(session(), route('alice', 'project'))).toBe(true);
  });

  it.each(['ali', 'alic', 'alice2', 'alicex', 'xalice', 'bob'])('keeps %s out of alice’s lab', (user) => {
    expect(ownsRoute(session({ username: user }), route('alice'))).toBe(false);
  });

  it('keeps alice out of the labs of names that start or end like hers', () => {
    expect(ownsRoute(session(), route('alice2'))).toBe(false);
    expect(ownsRoute(session(), route('ali'))).toBe(false);
  });

  it('refuses a route whose session id is not a hubless one', () => {
    expect(ownsRoute(session(), 'alice')).toBe(false);
    expect(ownsRoute(session(), 'alice.')).toBe(false);
  });
});

describe('gateway cookies', () => {
  it('reads one cookie by exact name, trimmed', () => {
    expect(readCookie('a=1; hubless_session= abc ; b=2', 'hubless_session')).toBe('abc');
    expect(readCookie('xhubless_session=1; hubless_session2=2', 'hubless_session')).toBeUndefined();
    expect(readCookie('=v; hubless_session', 'hubless_session')).toBeUndefined();
    expect(readCookie('k=a=b', 'k')).toBe('a=b');
    expect(readCookie(undefined, 'k')).toBeUndefined();
    expect(readCookie('', 'k')).toBeUndefined();
  });

  it('sets cookies HttpOnly and SameSite=Lax, Secure and Max-Age when asked', () => {
    expect(serializeCookie('n', 'v')).toBe('n=v; Path=/; HttpOnly; SameSite=Lax');
    expect(serializeCookie('n', 'v', { maxAge: 0, path: '/p', secure: true })).toBe(
      'n=v; Path=/p; HttpOnly; SameSite=Lax; Max-Age=0; Secure',
    );
    expect(serializeCookie('n', 'v', { secure: false })).toBe('n=v; Path=/; HttpOnly; SameSite=Lax');
  });

  it('makes session ids of 32 random bytes, base64url', () => {
    const a = randomId();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomId()).not.toBe(a);
  });

  it('does not read a part without "=" or with an empty name as a cookie', () => {
    expect(readCookie('kx', 'k')).toBeUndefined();
    expect(readCookie('=v', '')).toBeUndefined();
  });

  describe('ExpiringStore', () => {
    const item = (id: string, expiresAt: number) => ({ id, expiresAt });

    it('forgets an item at its expiry', () => {
      const store = new ExpiringStore<ReturnType<typeof item>>(10);
      store.set(item('a', 100), 0);
      expect(store.get('a', 99)).toEqual(item('a', 100));
      expect(store.get('a', 100)).toBeUndefined();
      expect(store.size).toBe(0);
      expect(store.get(undefined)).toBeUndefined();
    });

    it('deletes by id and ignores a missing id', () => {
      const store = new ExpiringStore<ReturnType<typeof item>>(10);
      store.set(item('a', 100), 0);
      store.delete(undefined);
      expect(store.size).toBe(1);
      store.delete('a');
      expect(store.get('a', 0)).toBeUndefined();
    });

    it('evicts only when full', () => {
      const store = new ExpiringStore<ReturnType<typeof item>>(3);
      store.set(item('expired', 50), 0);
      store.set(item('b', 500), 100);
      expect(store.size).toBe(2);
    });

    it('when full, evicts an expired item (at its expiry) before the oldest live one', () => {
      const store = new ExpiringStore<ReturnType<typeof item>>(2);
      store.set(item('keep', 500), 0);
      store.set(item('expires', 100), 0);
      store.set(item('new', 500), 100);
      expect(store.get('keep', 100)).toBeDefined();
      expect(store.get('new', 100)).toBeDefined();
    });

    it('when full, evicts expired items first and then the oldest', () => {
      const store = new ExpiringStore<ReturnType<typeof item>>(2);
      store.set(item('old', 50), 0);
      store.set(item('keep', 500), 0);
      store.set(item('new', 500), 100);
      expect(store.size).toBe(2);
      expect(store.get('old', 0)).toBeUndefined();
      expect(store.get('keep', 100)).toBeDefined();
      store.set(item('newest', 500), 100);
      expect(store.get('keep', 100)).toBeUndefined();
      expect(store.get('new', 100)).toBeDefined();
      expect(store.get('newest', 100)).toBeDefined();
    });
  });
});
