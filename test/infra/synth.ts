import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Aspects } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { App, getStack } from 'sst/constructs';
import { initProject } from 'sst/project.js';
import { CONFIG_CONTEXT_KEY } from '../../stacks/config.ts';
import {
  Api,
  Compute,
  hublessStacks,
  Identity,
  Monitoring,
  Network,
  Routing,
  Schedules,
  Storage,
} from '../../stacks/index.ts';
import { HANDLER_NAMES, HANDLERS_DIR_CONTEXT_KEY } from '../../stacks/lambda.ts';

/**
 * Offline synthesis of the whole SST app for the infra tests. SST v2 synthesizes without
 * AWS only in tests (NODE_ENV=test, which vitest sets): initProject with an explicit
 * stage, an App in deploy mode with a fixed account, then app.finish() to run the
 * deferred work (bundling every Function with esbuild, setting its real runtime).
 *
 * Functions are bundled from stub handlers in a temp dir: these tests check the
 * infrastructure; the real handlers are bundled and measured by bundle-size.test.ts.
 */

export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'us-east-1';

const STACKS = { Network, Storage, Identity, Compute, Routing, Api, Schedules, Monitoring };
export type StackName = keyof typeof STACKS;

export interface Synthesized {
  app: App;
  templates: Record<StackName, Template>;
  /** Error annotations (cdk-nag findings among them) per stack, as `<construct path>: <message>`. */
  errors: Record<StackName, string[]>;
  millis: number;
}

let project: Promise<void> | undefined;

function stubHandlers(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'hubless-infra-'));
  // SST looks for the nearest package.json above a handler when it bundles for deploy.
  writeFileSync(
    path.join(root, 'package.json'),
    JSON.stringify({ name: 'stub-handlers', type: 'module', dependencies: {} }),
  );
  const dir = path.join(root, 'handlers');
  mkdirSync(dir);
  for (const name of HANDLER_NAMES)
    writeFileSync(
      path.join(dir, `${name}.ts`),
      `export const handler = async () => ({ statusCode: 204 });\n`,
    );
  return dir;
}

/** Builds the app for the `test` stage; `config` replaces the stage configuration when given. */
export async function buildApp(options: { config?: unknown; nag?: boolean } = {}): Promise<App> {
  process.env.SST_TELEMETRY_DISABLED = '1';
  project ??= initProject({ stage: 'test' });
  await project;
  const context: Record<string, unknown> = { [HANDLERS_DIR_CONTEXT_KEY]: stubHandlers() };
  if (options.config !== undefined) context[CONFIG_CONTEXT_KEY] = options.config;
  const app = new App(
    { mode: 'deploy', name: 'hubless', stage: 'test', region: TEST_REGION, account: TEST_ACCOUNT },
    { outdir: mkdtempSync(path.join(tmpdir(), 'hubless-cdk-out-')), context },
  );
  if (options.nag) Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  hublessStacks(app);
  await app.finish();
  return app;
}

/** Synthesizes every stack once; use in beforeAll. */
export async function synthesize(options: { config?: unknown; nag?: boolean } = {}): Promise<Synthesized> {
  const started = performance.now();
  const app = await buildApp(options);
  const entries = Object.entries(STACKS) as Array<[StackName, (typeof STACKS)[StackName]]>;
  const templates = Object.fromEntries(
    entries.map(([name, fn]) => [name, Template.fromStack(getStack(fn))]),
  ) as Record<StackName, Template>;
  // Read the messages from the assembly already synthesized: Annotations.fromStack forces a
  // second synthesis, which SST's unique-id aspect rejects.
  const assembly = app.synth();
  const errors = Object.fromEntries(
    entries.map(([name, fn]) => [
      name,
      assembly
        .getStackArtifact(getStack(fn).artifactId)
        .messages.filter((m) => m.level === 'error')
        .map((m) => `${m.id}: ${String(m.entry.data)}`),
    ]),
  ) as Record<StackName, string[]>;
  return { app, templates, errors, millis: performance.now() - started };
}
