/**
 * Benchmark 5: a proxy for Lambda cold starts. Each Lambda entry point (functions/lambda)
 * is bundled the way it ships (stacks/lambda-bundle.ts: ESM, node24, minified, code
 * splitting, module-first) and loaded in
 * fresh Node processes: the time to `await import(bundle)` plus one construction of its
 * dependencies (the wiring getter the entry point calls on its first event), with plausible
 * fake HUBLESS_* settings. That getter makes one call, the consistent GetItem of the
 * deployment's configuration item (functions/adapters/aws/deployment-config.ts): it goes
 * to a stub DynamoDB on loopback that this benchmark starts and stops itself, answering
 * with the item the stacks would write; no other call leaves the process (SDK clients
 * connect only when they send).
 *
 * The timed bundle is the shipped entry point plus a re-export of its wiring getter, built
 * as one module graph, so the getter is the very function the entry point calls. The
 * bundle's size is its entry chunk (what a cold start reads and compiles) and all its
 * chunks (what the first requests may load: the SDK clients, adapters/aws/lazy-client.ts).
 *
 * Run alone: `node bench/cold-start.ts [--runs 10]`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
import { LAMBDA_BUNDLE, staticChunks } from '../stacks/lambda-bundle.ts';
import { startConfigStub } from '../test/support/deployment-config.ts';
import { FAKE_LAMBDA_ENV } from '../test/support/fake-lambda.ts';
import {
  type BenchResult,
  intOption,
  median,
  ms,
  percentile,
  progress,
  REPO_ROOT,
  round,
  runMain,
} from './lib/common.ts';

const run = promisify(execFile);
const { values } = parseArgs({ options: { runs: { type: 'string' } } });
const RUNS = intOption(values.runs, 'BENCH_COLD_RUNS', 10);
const BENCH = 'cold-start';

/** Each entry point and the wiring getter it calls on its first event. */
const HANDLERS = [
  { name: 'portal', getter: 'awsPortalDeps' },
  { name: 'api', getter: 'awsApiDeps' },
  { name: 'task-events', getter: 'awsCoreDeps' },
  { name: 'culler', getter: 'awsCullerDeps' },
  { name: 'launcher', getter: 'awsCoreDeps' },
] as const;
const ENTRY_DIR = join(REPO_ROOT, 'functions/lambda');

/** The child: imports the bundle, builds the deps once, prints the two times. */
const PROBE = `
const t0 = performance.now();
const mod = await import(process.argv[2]);
const t1 = performance.now();
await mod.benchDeps();
const t2 = performance.now();
process.stdout.write(JSON.stringify({ importMs: t1 - t0, depsMs: t2 - t1 }));
`;

interface HandlerResult {
  name: string;
  /** The entry chunk and the chunks it imports statically: read and compiled on every cold start. */
  bytes: number;
  /** Every chunk: the entry and what its routes import on first use. */
  allBytes: number;
  import: { median: number; p90: number };
  deps: { median: number };
  total: { median: number; p90: number };
  process: { median: number };
}

async function measure(
  dir: string,
  dynamoEndpoint: string,
  { name, getter }: (typeof HANDLERS)[number],
): Promise<HandlerResult> {
  const options = {
    bundle: true,
    ...LAMBDA_BUNDLE,
    mainFields: [...LAMBDA_BUNDLE.mainFields],
    platform: 'node' as const,
    outExtension: { '.js': '.mjs' },
    metafile: true,
    logLevel: 'silent' as const,
    // Some dependencies are CommonJS and call require(); Lambda's ESM bundles (SST) add this banner too.
    banner: {
      js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);",
    },
  };
  const shipped = await build({
    ...options,
    entryPoints: { [name]: join(ENTRY_DIR, `${name}.ts`) },
    outdir: join(dir, 'shipped', name),
  });
  const outputs = shipped.metafile?.outputs ?? {};
  const entryChunk = Object.keys(outputs).find((file) => file.endsWith(`/${name}.mjs`)) ?? '';
  const entryBytes = staticChunks(outputs, entryChunk).reduce(
    (sum, file) => sum + (outputs[file]?.bytes ?? 0),
    0,
  );
  const allBytes = Object.values(outputs).reduce((sum, output) => sum + output.bytes, 0);
  const entry = join(dir, `${name}-entry.ts`);
  await writeFile(
    entry,
    `export { handler } from ${JSON.stringify(join(ENTRY_DIR, `${name}.ts`))};\n` +
      `export { ${getter} as benchDeps } from ${JSON.stringify(join(REPO_ROOT, 'functions/wiring/aws.ts'))};\n`,
  );
  const timedDir = join(dir, 'timed', name);
  await mkdir(timedDir, { recursive: true });
  await build({ ...options, entryPoints: { timed: entry }, outdir: timedDir });
  const timed = join(timedDir, 'timed.mjs');
  const probe = join(dir, 'probe.mjs');
  await writeFile(probe, PROBE);

  const samples: Array<{ importMs: number; depsMs: number; processMs: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const { stdout } = await run(process.execPath, [probe, timed], {
      env: { PATH: process.env.PATH ?? '', ...FAKE_LAMBDA_ENV, AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint },
      cwd: dir,
    });
    const processMs = performance.now() - started;
    samples.push({ ...(JSON.parse(stdout) as { importMs: number; depsMs: number }), processMs });
  }
  const imports = samples.map((s) => s.importMs);
  const totals = samples.map((s) => s.importMs + s.depsMs);
  return {
    name,
    bytes: entryBytes,
    allBytes,
    import: { median: round(median(imports), 1), p90: round(percentile(imports, 90), 1) },
    deps: { median: round(median(samples.map((s) => s.depsMs)), 1) },
    total: { median: round(median(totals), 1), p90: round(percentile(totals, 90), 1) },
    process: { median: round(median(samples.map((s) => s.processMs))) },
  };
}

runMain(BENCH, async (): Promise<BenchResult> => {
  const dir = await mkdtemp(join(tmpdir(), 'hubless-bench-bundles-'));
  const results: HandlerResult[] = [];
  const stub = await startConfigStub();
  try {
    for (const handler of HANDLERS) {
      progress(BENCH, `${handler.name}: bundle, then ${RUNS} fresh processes`);
      results.push(await measure(dir, stub.endpoint, handler));
    }
  } finally {
    await stub.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    bench: BENCH,
    data: { runs: RUNS, node: process.version, handlers: results },
    tables: [
      {
        title: `Lambda cold start proxy (median of ${RUNS} fresh Node ${process.version} processes)`,
        columns: [
          'handler',
          'loaded at import',
          'all chunks',
          'import',
          'build deps',
          'import + deps',
          'p90',
          'whole process',
        ],
        rows: results.map((r) => [
          r.name,
          `${(r.bytes / 1024).toFixed(0)} KiB`,
          `${(r.allBytes / 1024).toFixed(0)} KiB`,
          `${r.import.median} ms`,
          `${r.deps.median} ms`,
          `${r.total.median} ms`,
          `${r.total.p90} ms`,
          ms(r.process.median),
        ]),
        notes: [
          'Bundled like stacks/lambda.ts ships them (stacks/lambda-bundle.ts: esbuild, ESM, node24, minified, module-first, code splitting: each AWS SDK client but the session table\'s is a chunk loaded on its first call). "loaded at import" is the entry chunk and the chunks it imports statically. "import + deps" is `await import(bundle)` plus the entry point\'s wiring getter (awsPortalDeps, awsApiDeps, awsCoreDeps, awsCullerDeps) with fake HUBLESS_* settings; its one call, the GetItem of the deployment\'s configuration item, goes to a stub DynamoDB on loopback; "whole process" adds Node\'s own start-up.',
          "Not measured: Lambda's sandbox start and code download, the first AWS calls (credentials, TLS), which add to a real cold start.",
        ],
      },
    ],
  };
});
