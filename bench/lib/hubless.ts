import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalMachineClients } from '../../functions/adapters/local/machine-clients.ts';
import { parseSettings } from '../../functions/core/config.ts';
import type { EventSink, LifecycleEvent } from '../../functions/core/ports.ts';
import {
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from '../../functions/local/runtime.ts';
import { freePort } from './common.ts';

/**
 * hubless local mode as `npm start` runs it (gateway, embedded OpenID provider, DynamoDB
 * Local under the data dir, real Jupyter processes unless a compute is injected), on a
 * free loopback port with a temp data dir, plus a machine client (an LMS) whose
 * client-credentials token drives the API.
 */
export interface HublessLocal {
  runtime: LocalRuntime;
  url: string;
  dataDir: string;
  /** Every lifecycle event, with the time it was published (performance.now()). */
  events: Array<LifecycleEvent & { at: number }>;
  /** A client-credentials access token with users:read, servers:read and servers:write. */
  token(): Promise<string>;
  stop(): Promise<void>;
}

export const BENCH_CLIENT = 'bench-lms';
const SCOPES = ['users:read', 'users:write', 'servers:read', 'servers:write'];

export async function startHubless(
  env: Record<string, string> = {},
  options: LocalRuntimeOptions = {},
): Promise<HublessLocal> {
  const dataDir = await mkdtemp(join(tmpdir(), 'hubless-bench-local-'));
  const port = await freePort();
  const settings = parseSettings({
    HUBLESS_PORT: String(port),
    HUBLESS_PUBLIC_URL: `http://127.0.0.1:${port}`,
    HUBLESS_DATA_DIR: dataDir,
    ...env,
  });
  // The provider reads machine clients at start-up, so the client exists first.
  const client = await new LocalMachineClients({ dataDir }).add(BENCH_CLIENT, SCOPES);
  const events: HublessLocal['events'] = [];
  const sink: EventSink = { publish: async (event) => void events.push({ ...event, at: performance.now() }) };
  let runtime: LocalRuntime;
  try {
    runtime = await startLocalRuntime(settings, { quiet: true, events: sink, ...options });
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const url = settings.local.publicUrl;
  let cached: { value: string; until: number } | undefined;
  return {
    runtime,
    url,
    dataDir,
    events,
    async token() {
      if (cached && cached.until > Date.now()) return cached.value;
      const response = await fetch(`${url}/oidc/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPES.join(' ') }).toString(),
      });
      if (response.status !== 200)
        throw new Error(`token request failed: ${response.status} ${await response.text()}`);
      const body = (await response.json()) as { access_token: string; expires_in: number };
      cached = { value: body.access_token, until: Date.now() + (body.expires_in - 60) * 1000 };
      return body.access_token;
    },
    async stop() {
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
