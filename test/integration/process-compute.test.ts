import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DirHomes } from '../../functions/adapters/local/dir-homes.ts';
import { findJupyter } from '../../functions/adapters/local/jupyter-command.ts';
import { ProcessCompute, reapOrphans } from '../../functions/adapters/local/process-compute.ts';
import type { ComputeStatus, LaunchSpec } from '../../functions/core/ports.ts';
import { baseUrlFor, newSessionId } from '../../functions/core/session.ts';
import type { TaskStateChangeEvent } from '../../functions/core/task-event.ts';
import { serveGitRepos, teacherGit } from '../support/git-http.ts';

const LAB_DIR = path.resolve(import.meta.dirname, '../../containers/lab');
const SIGNER = 'arn:hubless:local:gateway';
const ISSUER = 'http://127.0.0.1/hubless-test-issuer';

const kid = randomUUID();
let keys: Awaited<ReturnType<typeof generateKeyPair>>;
let keyServer: http.Server;
let keysUrl: string;
let dir: string;
let homes: DirHomes;
let compute: ProcessCompute;
let runDir: string;
const events: TaskStateChangeEvent[] = [];
const jupyter = findJupyter();

async function identity(username: string): Promise<string> {
  const exp = Math.floor(Date.now() / 1000) + 60;
  return new SignJWT({ sub: randomUUID(), username, exp, iss: ISSUER })
    .setProtectedHeader({ alg: 'ES256', kid, signer: SIGNER, iss: ISSUER, client: 'local', exp })
    .sign(keys.privateKey);
}

async function specFor(user: string, env: Record<string, string> = {}): Promise<LaunchSpec> {
  return {
    sessionId: newSessionId(user, '', randomUUID().slice(0, 8)),
    user,
    server: '',
    profile: { name: 'small', description: '', cpu: 256, memory: 512, spot: false, groups: [] },
    home: await homes.ensure(user),
    baseUrl: baseUrlFor(user, ''),
    env: {
      HUBLESS_OWNER: user,
      HUBLESS_IDENTITY_KEYS_URL: keysUrl,
      HUBLESS_IDENTITY_SIGNER: SIGNER,
      HUBLESS_IDENTITY_ISSUER: ISSUER,
      HUBLESS_LAB_TOKEN_SHA256: randomBytes(32).toString('hex'),
      ...env,
    },
  };
}

async function until(
  handle: string,
  done: (status: ComputeStatus) => boolean,
  timeoutMs = 60_000,
): Promise<ComputeStatus> {
  const deadline = Date.now() + timeoutMs;
  let status = await compute.poll(handle);
  while (!done(status)) {
    if (Date.now() > deadline) throw new Error(`${handle} is still ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = await compute.poll(handle);
  }
  return status;
}

async function running(handle: string): Promise<{ host: string; port: number }> {
  const status = await until(handle, (s) => s.state !== 'pending');
  if (status.state !== 'running') throw new Error(`expected running, got ${JSON.stringify(status)}`);
  return status.target;
}

/** The owner's headers for a write: identity plus jupyter's XSRF cookie, read from a page. */
async function ownerWriteHeaders(labUrl: string, user: string): Promise<Record<string, string>> {
  const header = await identity(user);
  const page = await fetch(`${labUrl}${jupyter.ui}`, { headers: { 'x-amzn-oidc-data': header } });
  const xsrf = page.headers
    .getSetCookie()
    .map((cookie) => /^_xsrf=([^;]+)/.exec(cookie)?.[1])
    .find(Boolean);
  if (!xsrf) throw new Error(`no _xsrf cookie from ${labUrl}${jupyter.ui} (status ${page.status})`);
  return {
    'x-amzn-oidc-data': header,
    Cookie: `_xsrf=${xsrf}`,
    'X-XSRFToken': xsrf,
    'content-type': 'application/json',
  };
}

beforeAll(async () => {
  keys = await generateKeyPair('ES256', { extractable: true });
  const pem = await exportSPKI(keys.publicKey);
  keyServer = http.createServer((request, response) => {
    if (request.url === `/.hubless/alb-keys/${kid}`) response.writeHead(200).end(pem);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  keysUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/.hubless/alb-keys`;
  dir = mkdtempSync(path.join(tmpdir(), 'hubless-process-compute-'));
  // Run as root, labs run as their users' own accounts, which must pass through to their homes.
  chmodSync(dir, 0o711);
  runDir = path.join(dir, 'run');
  homes = new DirHomes({ root: path.join(dir, 'homes') });
  compute = new ProcessCompute({
    jupyter,
    labPackageDir: LAB_DIR,
    runDir,
    onEvent: (event) => {
      events.push(event);
    },
    startTimeoutMs: 60_000,
    stopGraceMs: 5_000,
  });
});

afterAll(async () => {
  await compute?.close();
  await new Promise((resolve) => keyServer?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ProcessCompute with real Jupyter servers', () => {
  it('keeps the files in a home across a stop and a new start', async () => {
    const user = 'keeper';
    const first = await compute.start(await specFor(user));
    const target = await running(first);
    const labUrl = `http://${target.host}:${target.port}${baseUrlFor(user, '')}`;
    const saved = await fetch(`${labUrl}api/contents/notes.txt`, {
      method: 'PUT',
      headers: await ownerWriteHeaders(labUrl, user),
      body: JSON.stringify({ type: 'file', format: 'text', content: 'kept across restarts' }),
    });
    expect(saved.status).toBe(201);
    await compute.stop(first, 'Stopped by its owner.');
    expect(await compute.poll(first)).toMatchObject({ state: 'exited', code: 'user' });

    const second = await compute.start(await specFor(user));
    const again = await running(second);
    const read = await fetch(
      `http://${again.host}:${again.port}${baseUrlFor(user, '')}api/contents/notes.txt`,
      {
        headers: { 'x-amzn-oidc-data': await identity(user) },
      },
    );
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ content: 'kept across restarts' });
    await compute.stop(second, 'test over');
  });

  it('merges course material into the home before the lab answers, keeping a student edit at the next start', async () => {
    const user = 'learner';
    const bare = path.join(dir, 'intro.git');
    const teacher = path.join(dir, 'teacher');
    const git = teacherGit;
    const publish = async (files: Record<string, string>) => {
      for (const [name, text] of Object.entries(files)) await writeFile(path.join(teacher, name), text);
      git(teacher, 'add', '-A');
      git(teacher, 'commit', '-q', '-m', 'course update');
      git(teacher, 'push', '-q', 'origin', 'HEAD:main');
      repos.published(bare);
    };
    // Over HTTP: the lab pulls as its own account (as root), which git refuses for a root-owned file:// repository.
    const repos = await serveGitRepos(dir);
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(dir, 'clone', '-q', bare, teacher);
    await publish({ 'week1.ipynb': 'week 1 v1', 'week2.ipynb': 'week 2 v1' });
    const content = {
      HUBLESS_CONTENT_REPO: repos.url(bare),
      HUBLESS_CONTENT_BRANCH: 'main',
      HUBLESS_CONTENT_DIR: 'intro',
    };

    const first = await compute.start(await specFor(user, content));
    await running(first);
    const home = await homes.ensure(user);
    expect(readFileSync(path.join(home, 'intro/week1.ipynb'), 'utf8')).toBe('week 1 v1');
    await compute.stop(first, 'Stopped by its owner.');

    await writeFile(path.join(home, 'intro/week1.ipynb'), 'my answers');
    rmSync(path.join(home, 'intro/week2.ipynb'));
    await publish({ 'week1.ipynb': 'week 1 v2', 'week3.ipynb': 'week 3' });
    const second = await compute.start(await specFor(user, content));
    await running(second);
    expect(readFileSync(path.join(home, 'intro/week1.ipynb'), 'utf8')).toBe('my answers');
    expect(readFileSync(path.join(home, 'intro/week1.course-update.ipynb'), 'utf8')).toBe('week 1 v2');
    expect(readFileSync(path.join(home, 'intro/week2.ipynb'), 'utf8')).toBe('week 2 v1');
    expect(readFileSync(path.join(home, 'intro/week3.ipynb'), 'utf8')).toBe('week 3');
    await compute.stop(second, 'test over');
    await repos.close();
  });

  it("keeps the operator's secrets and settings out of a lab's environment", async () => {
    // Stubbed, then restored to what they were (an operator's run may have them set).
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'operator-secret');
    vi.stubEnv('HUBLESS_DATA_DIR', '/srv/hubless');
    try {
      const handle = await compute.start(await specFor('envcheck'));
      await running(handle);
      const environ = readFileSync(`/proc/${compute.pidOf(handle)}/environ`, 'utf8').split('\0');
      expect(environ).not.toContain('AWS_SECRET_ACCESS_KEY=operator-secret');
      expect(environ.some((line) => line.startsWith('HUBLESS_DATA_DIR='))).toBe(false);
      expect(environ).toContain('HUBLESS_OWNER=envcheck');
      expect(environ.some((line) => line.startsWith('PATH='))).toBe(true);
      await compute.stop(handle, 'test over');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('reports a server killed by hand as a STOPPED event with EssentialContainerExited', async () => {
    const handle = await compute.start(await specFor('victim'));
    await running(handle);
    const pid = compute.pidOf(handle);
    expect(pid).toBeTypeOf('number');
    process.kill(pid as number, 'SIGKILL');
    const status = await until(handle, (s) => s.state === 'exited');
    expect(status).toMatchObject({ state: 'exited', code: 'crashed', exitCode: 137 });
    await compute.delivered(handle);
    const stopped = events.filter((event) => event.detail.taskArn === handle).at(-1);
    expect(stopped?.detail).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited' });
    expect(stopped?.detail.containers?.[0]?.exitCode).toBe(137);
  });

  it('reports a lab without its owner settings as crashed, with the reason from its output', async () => {
    const spec = await specFor('unowned');
    delete spec.env.HUBLESS_OWNER;
    const handle = await compute.start(spec);
    const status = await until(handle, (s) => s.state === 'exited');
    expect(status).toMatchObject({ state: 'exited', code: 'crashed', exitCode: 1 });
    if (status.state === 'exited') expect(status.reason).toContain('HUBLESS_OWNER');
  });

  describe('reapOrphans', () => {
    it('stops a recorded server that still runs and leaves an unrelated process with a recorded pid alone', async () => {
      const handle = await compute.start(await specFor('orphan'));
      await running(handle);
      const pid = compute.pidOf(handle) as number;
      // A pid file whose pid now belongs to something else (pid reuse after a reboot).
      const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
      await mkdir(runDir, { recursive: true });
      await writeFile(
        path.join(runDir, 'reused.json'),
        JSON.stringify({
          pid: bystander.pid,
          handle: 'local-task/reused',
          marker: `hubless-task=${randomUUID()}`,
        }),
      );
      try {
        const reaped = await reapOrphans(runDir, { graceMs: 5_000 });
        expect(reaped).toEqual([handle]);
        expect(await until(handle, (s) => s.state === 'exited')).toMatchObject({ state: 'exited' });
        expect(() => process.kill(pid, 0)).toThrow();
        expect(bystander.exitCode).toBeNull();
        expect(() => process.kill(bystander.pid as number, 0)).not.toThrow();
        expect(await reapOrphans(runDir)).toEqual([]);
      } finally {
        bystander.kill('SIGKILL');
      }
    });
  });
});

describe('the shared data folder', () => {
  const asRoot = process.getuid?.() === 0;
  let shared: ProcessCompute;
  let sharedDir: string;

  beforeAll(() => {
    sharedDir = path.join(dir, 'homes', '.hubless-shared');
    shared = new ProcessCompute({
      jupyter,
      labPackageDir: LAB_DIR,
      runDir: path.join(dir, 'shared-run'),
      onEvent: () => undefined,
      stopGraceMs: 5_000,
      sharedDir,
    });
  });
  afterAll(() => shared?.close());

  async function labFor(user: string, sharedData: 'read' | 'write') {
    const handle = await shared.start({ ...(await specFor(user)), sharedData });
    const status = await shared.poll(handle);
    const deadline = Date.now() + 60_000;
    let current = status;
    while (current.state === 'pending' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      current = await shared.poll(handle);
    }
    if (current.state !== 'running') throw new Error(`${user}'s lab: ${JSON.stringify(current)}`);
    return { handle, url: `http://${current.target.host}:${current.target.port}${baseUrlFor(user, '')}` };
  }

  async function save(lab: { url: string }, user: string, file: string, content: string) {
    return fetch(`${lab.url}api/contents/${file}`, {
      method: 'PUT',
      headers: await ownerWriteHeaders(lab.url, user),
      body: JSON.stringify({ type: 'file', format: 'text', content }),
    });
  }

  it("lets a course admin's lab write it and every student's lab read it", async () => {
    const teacher = await labFor('teacher', 'write');
    const student = await labFor('student', 'read');

    expect((await save(teacher, 'teacher', 'shared-write/data.csv', 'a,b\n1,2\n')).status).toBe(201);
    const read = await fetch(`${student.url}api/contents/shared/data.csv`, {
      headers: { 'x-amzn-oidc-data': await identity('student') },
    });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ content: 'a,b\n1,2\n' });
    // A student has no writable way in: no shared-write in their home.
    const none = await fetch(`${student.url}api/contents/shared-write`, {
      headers: { 'x-amzn-oidc-data': await identity('student') },
    });
    expect(none.status).toBe(404);

    await shared.stop(teacher.handle, 'test over');
    await shared.stop(student.handle, 'test over');
  });

  it.runIf(asRoot)("refuses a student's write, even through the folder's own path", async () => {
    const student = await labFor('reader', 'read');
    const refused = await save(student, 'reader', 'shared/mine.txt', 'overwrite the class data');
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/Permission denied/);
    expect(existsSync(path.join(sharedDir, 'mine.txt'))).toBe(false);
    await shared.stop(student.handle, 'test over');
  });

  it('takes the writable link back when a course admin is a student again, and leaves a file of the same name alone', async () => {
    const former = await labFor('former', 'write');
    await shared.stop(former.handle, 'test over');
    const home = await homes.ensure('former');
    expect(readlinkSync(path.join(home, 'shared-write'))).toBe(sharedDir);

    const again = await labFor('former', 'read');
    expect(existsSync(path.join(home, 'shared-write'))).toBe(false);
    await shared.stop(again.handle, 'test over');

    const own = await homes.ensure('keeps');
    await writeFile(path.join(own, 'shared'), 'my own notes called shared');
    const lab = await labFor('keeps', 'read');
    expect(readFileSync(path.join(own, 'shared'), 'utf8')).toBe('my own notes called shared');
    await shared.stop(lab.handle, 'test over');
  });
});

describe('DirHomes', () => {
  describe('ensure', () => {
    it('makes a private directory per user, idempotently', async () => {
      const home = await homes.ensure('carol');
      expect(home).toBe(path.join(dir, 'homes', 'carol'));
      expect(statSync(home).mode & 0o777).toBe(0o700);
      expect(await homes.ensure('carol')).toBe(home);
    });

    it('refuses a user key that could escape the root or is not normalised', async () => {
      await expect(homes.ensure('../bob')).rejects.toMatchObject({ status: 400 });
      await expect(homes.ensure('Alice')).rejects.toMatchObject({ status: 400 });
      await expect(homes.ensure('')).rejects.toMatchObject({ status: 400 });
    });
  });
});
