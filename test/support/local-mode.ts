import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { parseSettings } from '../../functions/core/config.ts';
import type { EventSink, LifecycleEvent } from '../../functions/core/ports.ts';
import {
  type LocalRuntime,
  type LocalRuntimeOptions,
  startLocalRuntime,
} from '../../functions/local/runtime.ts';
import { TEST_DYNAMODB_ENDPOINT_VARIABLE } from './dynamodb.ts';
import { freePort, onFreePort, waitFor } from './net.ts';

export interface TestLocalMode {
  runtime: LocalRuntime;
  url: string;
  dataDir: string;
  events: LifecycleEvent[];
  addUser(name: string, password: string, extra?: { admin?: boolean; groups?: string[] }): Promise<void>;
  stop(): Promise<void>;
}

export interface TestLocalModeOptions extends LocalRuntimeOptions {
  /**
   * Runs on the fresh data dir before local mode starts: for files the runtime reads
   * only at start-up, such as the machine clients (clients.json).
   */
  beforeStart?: (dataDir: string) => Promise<void>;
  /** Serve https:// (a self-signed certificate is made in the data dir). */
  https?: boolean;
}

/**
 * Local mode as `npm start` runs it (gateway, provider, DynamoDB, real Jupyter), on a
 * free loopback port with its own data dir and table, sharing the run's DynamoDB Local.
 */
export async function startTestLocalMode(
  env: Record<string, string> = {},
  testOptions: TestLocalModeOptions = {},
): Promise<TestLocalMode> {
  const { beforeStart, https, ...options } = testOptions;
  const dataDir = await mkdtemp(join(tmpdir(), 'hubless-local-'));
  await beforeStart?.(dataDir);
  const events: LifecycleEvent[] = [];
  const sink: EventSink = { publish: async (event) => void events.push(event) };
  const dynamoEndpoint = inject('hublessTestDynamoEndpoint') ?? process.env[TEST_DYNAMODB_ENDPOINT_VARIABLE];
  const startOn = async (port: number) => {
    const settings = parseSettings({
      HUBLESS_PORT: String(port),
      HUBLESS_PUBLIC_URL: `${https ? 'https' : 'http'}://127.0.0.1:${port}`,
      HUBLESS_DATA_DIR: dataDir,
      HUBLESS_TABLE_NAME: `local-${port}-${Date.now()}`,
      ...env,
    });
    const runtime = await startLocalRuntime(settings, {
      dynamoEndpoint,
      quiet: true,
      events: sink,
      ...options,
    });
    return { runtime, settings };
  };
  // A port the caller chose is used as it is; otherwise another one when it was taken meanwhile.
  const { runtime, settings } = env.HUBLESS_PORT
    ? await startOn(Number(env.HUBLESS_PORT))
    : await onFreePort(startOn);
  return {
    runtime,
    url: settings.local.publicUrl,
    dataDir,
    events,
    async addUser(name, password, extra = {}) {
      await runtime.directory.upsert({ name, password, ...extra });
    },
    async stop() {
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
      await rm(runtime.homesDir, { recursive: true, force: true });
    },
  };
}

export { freePort, waitFor };
