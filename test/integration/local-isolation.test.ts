import { execFileSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { chown } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CurrentUserAccounts } from '../../functions/adapters/local/lab-accounts.ts';
import type { ProcessCompute } from '../../functions/adapters/local/process-compute.ts';
import { newSessionId, type Session } from '../../functions/core/session.ts';
import { Browser, signIn } from '../support/http-browser.ts';
import { executeInKernel } from '../support/jupyter-kernel.ts';
import { startTestLocalMode, type TestLocalMode, waitFor } from '../support/local-mode.ts';

/**
 * Local mode run as root must keep a class apart the way the cloud does. Every attack
 * below runs as student code would: Python sent over alice's own kernel channel, through
 * the gateway, as JupyterLab sends it. Each must fail with a permission error.
 */
const asRootOnLinux = process.getuid?.() === 0 && process.platform === 'linux';

/** The Python prelude: attempt(f) gives 'allowed' or the errno name (EACCES, EPERM, ...). */
const PRELUDE = `
import errno, json, os, signal, socket, urllib.request, urllib.error
def attempt(f):
    try:
        f()
        return 'allowed'
    except urllib.error.HTTPError as e:
        return 'HTTP %d' % e.code
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def read(path):
    with open(path, 'rb') as f:
        f.read(1)
def append(path):
    with open(path, 'ab') as f:
        f.write(b'x')
`;

/**
 * Someone else's server on this machine; `hits` lists every request hubless sent it: the
 * gateway forwarding a user's requests with her signed identity header, or the culler
 * probing it with a lab token.
 */
async function foreignServer(): Promise<{ port: number; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((request, response) => {
    hits.push(request.url ?? '');
    response.end('<script>/* reads the user files from the hubless origin */</script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Another machine on the LAN: a network namespace joined to this one by a veth pair, on
 * a /30 of its own. `connect(port)` says what a TCP connect to this machine gives there.
 */
async function lanHost(): Promise<{ connect(port: number): string; remove(): void }> {
  const tag = `${process.pid % 10_000}${Math.floor(Math.random() * 100)}`;
  const ns = `hubless-lan-${tag}`;
  const here = `hl${tag}h`;
  const there = `hl${tag}l`;
  const subnet = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
  const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
  ip('netns', 'add', ns);
  ip('link', 'add', here, 'type', 'veth', 'peer', 'name', there);
  ip('link', 'set', there, 'netns', ns);
  ip('addr', 'add', `${subnet}.1/30`, 'dev', here);
  ip('link', 'set', here, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${subnet}.2/30`, 'dev', there);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', there, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  return {
    connect(port: number) {
      const python = `
import errno, socket
try:
    socket.create_connection(('${subnet}.1', ${port}), timeout=5).close()
    print('connected')
except OSError as e:
    print(errno.errorcode.get(e.errno, 'timeout' if isinstance(e, socket.timeout) else str(e)))
`;
      return ip('netns', 'exec', ns, 'python3', '-c', python).trim();
    },
    remove() {
      // Deleting the namespace destroys its end of the pair, and with it the other end.
      execFileSync('ip', ['netns', 'delete', ns]);
    },
  };
}

describe.runIf(asRootOnLinux)('local mode run as root: a lab is kept apart from everything else', () => {
  let local: TestLocalMode;
  let alice: Browser;
  let bob: Browser;
  let aliceSession: Session;
  let bobSession: Session;
  let channels: string;

  const form = (browser: Browser, path: string) =>
    browser.request(path, {
      method: 'POST',
      headers: { origin: local.url, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
  const untilReady = (user: string) =>
    waitFor(
      `${user}'s server to be ready`,
      async () => {
        const session = await local.runtime.deps.store.get(user, '');
        if (session?.state === 'failed' || session?.state === 'stopped')
          throw new Error(`${user}'s start failed: ${session.reason?.message}`);
        return session?.state === 'ready' ? session : undefined;
      },
      120_000,
    );

  /** Runs Python in alice's kernel and returns the JSON its last expression dumps. */
  async function inAlicesKernel<T>(code: string): Promise<T> {
    const cookie = [...alice.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const run = await executeInKernel(channels, `${PRELUDE}\n${code}`, { cookie }, 60_000);
    expect(run.status).toBe('ok');
    // The text/plain of a str is its repr: '...'; the JSON inside has no quotes of that kind.
    return JSON.parse(run.result!.slice(1, -1)) as T;
  }

  beforeAll(async () => {
    // Its own DynamoDB Local, started as `npm start` starts it (the run's shared one is not).
    local = await startTestLocalMode({}, { dynamoEndpoint: undefined });
    await local.addUser('alice', 'alice-password');
    await local.addUser('bob', 'bob-password');
    alice = new Browser(local.url);
    bob = new Browser(local.url);
    await signIn(alice, 'alice', 'alice-password');
    await signIn(bob, 'bob', 'bob-password');
    await Promise.all([form(alice, '/start'), form(bob, '/start')]);
    [aliceSession, bobSession] = await Promise.all([untilReady('alice'), untilReady('bob')]);
    // Something of bob's to steal.
    const secret = join(bobSession.home!, 'secret.txt');
    writeFileSync(secret, 'bob only', { mode: 0o600 });
    const bobStat = statSync(bobSession.home!);
    await chown(secret, bobStat.uid, bobStat.gid);

    // A page of her lab first: Jupyter sets the _xsrf cookie it wants echoed on writes.
    await (await alice.follow('/user/alice/')).response.body?.cancel();
    const kernel = await alice.request('/user/alice/api/kernels', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-xsrftoken': alice.jar.get('_xsrf') ?? '',
        origin: local.url,
      },
      body: JSON.stringify({ name: 'python3' }),
    });
    expect(kernel.status).toBe(201);
    const { id } = (await kernel.json()) as { id: string };
    channels = `${local.url.replace('http', 'ws')}/user/alice/api/kernels/${id}/channels`;
    // Java, two accounts and two labs: minutes on a busy shared runner, seconds on an idle one.
  }, 300_000);

  afterAll(async () => {
    if (local) await Promise.all([form(alice, '/stop'), form(bob, '/stop')]).catch(() => undefined);
    await local?.stop();
  });

  const pidOf = (session: Session) =>
    (local.runtime.deps.compute as ProcessCompute).pidOf(session.computeHandle!);

  it("runs alice's code as her own locked account, never as root", async () => {
    const passwd = execFileSync('getent', ['passwd', 'hubless-alice'], { encoding: 'utf8' }).split(':');
    const shadow = execFileSync('getent', ['shadow', 'hubless-alice'], { encoding: 'utf8' }).split(':');
    const seen = await inAlicesKernel<{ uid: number; gid: number; groups: number[]; home: string }>(
      "json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(), 'home': os.environ['HOME']})",
    );
    expect(seen.uid).not.toBe(0);
    expect(seen.uid).toBe(Number(passwd[2]));
    expect(seen.gid).toBe(Number(passwd[3]));
    expect(seen.groups).not.toContain(0);
    expect(passwd[6]?.trim()).toMatch(/nologin|false$/);
    expect(shadow[1]).toMatch(/^!/); // locked: no password can sign in as it
    const home = statSync(aliceSession.home!);
    expect(home.mode & 0o777).toBe(0o700);
    expect(home.uid).toBe(Number(passwd[2]));
  });

  it("cannot list, read or write bob's home", async () => {
    const home = JSON.stringify(bobSession.home);
    const seen = await inAlicesKernel<Record<string, string>>(`json.dumps({
      'list': attempt(lambda: os.listdir(${home})),
      'read': attempt(lambda: read(os.path.join(${home}, 'secret.txt'))),
      'write': attempt(lambda: append(os.path.join(${home}, 'planted.py'))),
    })`);
    expect(seen).toEqual({ list: 'EACCES', read: 'EACCES', write: 'EACCES' });
  });

  it('cannot read any file of the data dir, nor the signing key, nor add itself an admin token', async () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else files.push(join(dir, entry.name));
      }
    };
    walk(local.dataDir);
    const key = join(local.dataDir, 'gateway', 'identity-key.json');
    const users = join(local.dataDir, 'users.json');
    expect(files).toEqual(expect.arrayContaining([key, users]));
    for (const file of files) expect(statSync(file).mode & 0o077).toBe(0);
    const seen = await inAlicesKernel<{
      list: string;
      read: Record<string, string>;
      write: string[];
    }>(`json.dumps({
      'list': attempt(lambda: os.listdir(${JSON.stringify(local.dataDir)})),
      'read': {f: attempt(lambda f=f: read(f)) for f in ${JSON.stringify(files)}},
      'write': [attempt(lambda: append(${JSON.stringify(users)})),
                attempt(lambda: append(${JSON.stringify(join(local.dataDir, 'service-tokens.json'))}))],
    })`);
    expect(seen.list).toBe('EACCES');
    expect(seen.read).toEqual(Object.fromEntries(files.map((file) => [file, 'EACCES'])));
    expect(seen.write).toEqual(['EACCES', 'EACCES']);
  });

  it("cannot read bob's lab's environment (his lab token) nor the gateway's", async () => {
    const seen = await inAlicesKernel<string[]>(`json.dumps([
      attempt(lambda: read('/proc/${pidOf(bobSession)}/environ')),
      attempt(lambda: read('/proc/${process.pid}/environ')),
    ])`);
    expect(seen).toEqual(['EACCES', 'EACCES']);
  });

  it("cannot signal bob's lab nor the gateway", async () => {
    const seen = await inAlicesKernel<string[]>(`json.dumps([
      attempt(lambda: os.kill(${pidOf(bobSession)}, signal.SIGKILL)),
      attempt(lambda: os.kill(${process.pid}, 0)),
    ])`);
    expect(seen).toEqual(['EPERM', 'EPERM']);
    expect((await local.runtime.deps.store.get('bob', ''))?.state).toBe('ready');
  });

  it('cannot reach DynamoDB Local, neither its port nor the socket hubless uses, nor signal it', async () => {
    const dynamo = local.runtime.dynamo!;
    expect(dynamo.socketPath).toBeDefined();
    const port = Number(new URL(dynamo.endpoint).port);
    // The same port from hubless's side answers: the refusals below are not an accident.
    expect((await local.runtime.deps.store.get('alice', ''))?.state).toBe('ready');
    const seen = await inAlicesKernel<Record<string, string>>(`json.dumps({
      'port': attempt(lambda: socket.create_connection(('127.0.0.1', ${port}), timeout=5).close()),
      'socket': attempt(lambda: socket.socket(socket.AF_UNIX).connect(${JSON.stringify(dynamo.socketPath)})),
      'signal': attempt(lambda: os.kill(${dynamo.pid}, 0)),
    })`);
    // Nothing listens on that port in the lab's network: DynamoDB Local has a namespace of its own.
    expect(seen).toEqual({ port: 'ECONNREFUSED', socket: 'EACCES', signal: 'EPERM' });
  });

  it("cannot open a kernel in bob's lab by going to its port directly", async () => {
    const { host, port } = bobSession.target!;
    const seen = await inAlicesKernel<string>(`json.dumps(attempt(lambda: urllib.request.urlopen(
      urllib.request.Request('http://${host}:${port}/user/bob/api/kernels', data=b'{}', method='POST'), timeout=10)))`);
    expect(seen).toBe('HTTP 403');
  });

  it('is unreachable from another machine on the network: neither DynamoDB Local nor a lab port', async () => {
    const lan = await lanHost();
    const open = http.createServer((_request, response) => response.end('ok'));
    try {
      // A control: a port open on every interface of this machine is reachable from the LAN host.
      await new Promise<void>((resolve) => open.listen(0, '0.0.0.0', resolve));
      const control = (open.address() as AddressInfo).port;
      const dynamoPort = Number(new URL(local.runtime.dynamo!.endpoint).port);
      const labPort = aliceSession.target!.port;
      expect(lan.connect(control)).toBe('connected');
      expect(lan.connect(dynamoPort)).toBe('ECONNREFUSED');
      expect(lan.connect(labPort)).toBe('ECONNREFUSED');
    } finally {
      await new Promise((resolve) => open.close(resolve));
      lan.remove();
    }
  });

  // Last: it takes alice's route away for good.
  it("does not restore alice's route when her session record is changed to point at another server", async () => {
    const foreign = await foreignServer();
    try {
      const current = (await local.runtime.deps.store.get('alice', ''))!;
      await local.runtime.deps.store.update(
        { ...current, target: { host: '127.0.0.1', port: foreign.port } },
        current.version,
      );
      // As after a restart of the gateway: its table forgot the route, the reconciler restores routes.
      await local.runtime.router.deleteRoute(current.id, current.route);
      await local.runtime.cull();
      expect(local.runtime.router.lookup('/user/alice/')).toBeUndefined();
      const response = await alice.request('/user/alice/api/contents');
      await response.body?.cancel();
      expect(response.status).not.toBe(200);
      expect(foreign.hits).toEqual([]);
    } finally {
      await foreign.close();
    }
  });
});

describe('local mode run as anyone but root', () => {
  it('says plainly at start-up that users are not kept apart', async () => {
    const local = await startTestLocalMode({}, { accounts: new CurrentUserAccounts() });
    try {
      expect(local.runtime.isolation.usersIsolated).toBe(false);
      expect(local.runtime.isolation.notice).toMatch(/^Users are NOT kept apart: every lab runs as /);
    } finally {
      await local.stop();
    }
  });
});

describe('the reconciler and a forged ready session', () => {
  it('gives no route to a ready session whose server hubless did not start', async () => {
    const local = await startTestLocalMode();
    const foreign = await foreignServer();
    try {
      await local.addUser('carol', 'carol-password');
      const now = new Date().toISOString();
      // What anyone who can write the session table could add: carol's server is "ready" at theirs.
      await local.runtime.deps.store.create({
        id: newSessionId('carol', '', 'forged'),
        user: 'carol',
        server: '',
        profile: 'default',
        state: 'ready',
        version: 0,
        createdAt: now,
        updatedAt: now,
        readyAt: now,
        target: { host: '127.0.0.1', port: foreign.port },
        events: [],
      });
      await local.runtime.cull();
      expect(local.runtime.router.lookup('/user/carol/')).toBeUndefined();
      const carol = new Browser(local.url);
      await signIn(carol, 'carol', 'carol-password');
      const response = await carol.request('/user/carol/tree');
      await response.body?.cancel();
      expect(response.status).not.toBe(200);
      expect(foreign.hits).toEqual([]);
    } finally {
      await foreign.close();
      await local.stop();
    }
  });
});
