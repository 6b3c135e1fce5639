import { poll, sleep } from './common.ts';

/**
 * A client of JupyterHub's REST API (/hub/api), the one interface both systems share:
 * JupyterHub natively, hubless through its JupyterHub-compatible routes. The same code
 * starts, watches and stops servers on both, so the timings differ only by the system.
 */
export interface HubApi {
  /** Origin, e.g. http://127.0.0.1:8000 */
  base: string;
  /** The Authorization header value: "token <t>" (JupyterHub) or "Bearer <jwt>" (hubless). */
  authorization: () => Promise<string>;
}

interface HubUser {
  name: string;
  server: string | null;
  pending: string | null;
}

async function call(api: HubApi, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${api.base}/hub/api${path}`, {
    method,
    headers: {
      authorization: await api.authorization(),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Creates users (JupyterHub's POST /users); a 409 for existing users is fine. */
export async function createHubUsers(api: HubApi, usernames: string[]): Promise<void> {
  const response = await call(api, 'POST', '/users', { usernames });
  await response.body?.cancel();
  if (response.status !== 201 && response.status !== 409)
    throw new Error(`creating users: HTTP ${response.status}`);
}

export async function getHubUser(api: HubApi, user: string): Promise<HubUser> {
  const response = await call(api, 'GET', `/users/${user}`);
  if (response.status !== 200) throw new Error(`GET user ${user}: HTTP ${response.status}`);
  return (await response.json()) as HubUser;
}

/** POST .../server; returns the HTTP status (201 ready, 202 still starting). */
export async function requestStart(api: HubApi, user: string): Promise<number> {
  const response = await call(api, 'POST', `/users/${user}/server`);
  const text = await response.text();
  if (response.status !== 201 && response.status !== 202)
    throw new Error(`start ${user}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return response.status;
}

/** Polls GET /users/<user> until its default server is ready; throws when the start failed. */
export async function waitUntilReady(
  api: HubApi,
  user: string,
  intervalMs: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const model = await getHubUser(api, user);
    if (model.server !== null && model.pending === null) return;
    // Neither pending nor running after a start was accepted: the spawn failed.
    if (model.server === null && model.pending === null) throw new Error(`${user}'s server failed to start`);
    await sleep(intervalMs);
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${user}'s server to be ready`);
}

/** Starts and waits; returns milliseconds from sending the POST to seeing ready. */
export async function startAndWait(
  api: HubApi,
  user: string,
  intervalMs = 100,
  timeoutMs = 180_000,
): Promise<number> {
  const started = performance.now();
  const status = await requestStart(api, user);
  if (status !== 201) await waitUntilReady(api, user, intervalMs, timeoutMs);
  return performance.now() - started;
}

/** DELETE .../server and waits until the user has no server. */
export async function stopAndWait(api: HubApi, user: string, timeoutMs = 60_000): Promise<void> {
  const response = await call(api, 'DELETE', `/users/${user}/server`);
  await response.body?.cancel();
  if (![202, 204, 400].includes(response.status)) throw new Error(`stop ${user}: HTTP ${response.status}`);
  await poll(
    `${user}'s server to stop`,
    async () => {
      const model = await getHubUser(api, user);
      return model.server === null && model.pending === null ? true : undefined;
    },
    timeoutMs,
    200,
  );
}
