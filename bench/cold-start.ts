/**
 * Benchmark 5: a proxy for Lambda cold starts. Each Lambda entry point (functions/lambda)
 * is bundled the way it ships (esbuild: platform node, ESM, target node24, bundle, minify,
 * mainFields module,main; the settings of test/infra/bundle-size.test.ts) and loaded in
 * fresh Node processes: the time to `await import(bundle)` plus one construction of its
 * dependencies (the wiring getter the entry point calls on its first event), with plausible
 * fake HUBLESS_* settings. That getter makes one call, the consistent GetItem of the
 * deployment's configuration item (functions/adapters/aws/deployment-config.ts): it goes
 * to a stub DynamoDB on loopback that this benchmark starts and stops itself, answering
 * with the item the stacks would write; no other call leaves the process (SDK clients
 * connect only when they send).
 *
 * The timed bundle is the shipped entry point plus a re-export of its wiring getter, built
 * as one module graph, so the getter is the very function the entry point calls.
 *
 * Run alone: `node bench/cold-start.ts [--runs 10]`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
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
  bytes: number;
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
  const shipped = join(dir, `${name}.mjs`);
  const options = {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: 'node24',
    minify: true,
    mainFields: ['module', 'main'],
    logLevel: 'silent' as const,
    // Some dependencies are CommonJS and call require(); Lambda's ESM bundles (SST) add this banner too.
    banner: {
      js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);",
    },
  };
  await build({
    ...options,
    entryPoints: [join(ENTRY_DIR, `${name}.ts`)],
    outfile: shipped,
  });
  const entry = join(dir, `${name}-entry.ts`);
  await writeFile(
    entry,
    `export { handler } from ${JSON.stringify(join(ENTRY_DIR, `${name}.ts`))};\n` +
      `export { ${getter} as benchDeps } from ${JSON.stringify(join(REPO_ROOT, 'functions/wiring/aws.ts'))};\n`,
  );
  const timed = join(dir, `${name}-timed.mjs`);
  await build({ ...options, entryPoints: [entry], outfile: timed });
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
    bytes: (await stat(shipped)).size,
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
        columns: ['handler', 'bundle', 'import', 'build deps', 'import + deps', 'p90', 'whole process'],
        rows: results.map((r) => [
          r.name,
          `${(r.bytes / 1024).toFixed(0)} KiB`,
          `${r.import.median} ms`,
          `${r.deps.median} ms`,
          `${r.total.median} ms`,
          `${r.total.p90} ms`,
          ms(r.process.median),
        ]),
        notes: [
          'Bundled like test/infra/bundle-size.test.ts (esbuild, ESM, node24, minified, module-first). "import + deps" is `await import(bundle)` plus the entry point\'s wiring getter (awsPortalDeps, awsApiDeps, awsCoreDeps, awsCullerDeps) with fake HUBLESS_* settings; its one call, the GetItem of the deployment\'s configuration item, goes to a stub DynamoDB on loopback; "whole process" adds Node\'s own start-up.',
          "Not measured: Lambda's sandbox start and code download, the first AWS calls (credentials, TLS), which add to a real cold start.",
        ],
      },
    ],
  };
});
