/**
 * `npm run mutation`: StrykerJS over the code that guards users and data
 * (scripts/mutation-modules.ts), then the score per module. The report is written to
 * test-artifacts/mutation/<run>/ (index.html, mutation.json, survivors.txt). The full run also
 * applies the lab's Python owner-check mutants (containers/lab/tests/mutate_owner_check.py).
 *
 *   npm run mutation                      every module, unit and contract tests (DynamoDB Local)
 *   npm run mutation -- --ci              the fast subset .ci/run runs: unit tests only
 *   npm run mutation -- --module scopes   only the modules whose name contains "scopes"
 *   npm run mutation -- --concurrency 2   test runners in parallel (default 2)
 *
 * Exits non-zero when Stryker fails or a module scores under MIN_SCORE.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { startDynamoDbLocal } from '../functions/local/dynamodb-local.ts';
import { countsByFile, MUTATION_MODULES, mutationScore, sumCounts } from './mutation-modules.ts';

const MIN_SCORE = 85;

function parseArgs(argv: string[]) {
  const options = { ci: false, modules: [] as string[], concurrency: 2 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--ci') options.ci = true;
    else if (arg === '--module' && argv[i + 1]) options.modules.push(argv[++i] as string);
    else if (arg === '--concurrency' && Number(argv[i + 1]) > 0) options.concurrency = Number(argv[++i]);
    else {
      console.error(
        `mutation: unknown argument ${JSON.stringify(arg)}; use --ci, --module <name> or --concurrency <n>`,
      );
      process.exit(2);
    }
  }
  return options;
}

const options = parseArgs(process.argv.slice(2));
const modules = MUTATION_MODULES.filter(
  (m) =>
    (!options.ci || m.ci) &&
    (options.modules.length === 0 || options.modules.some((n) => m.name.includes(n))),
);
if (modules.length === 0) {
  console.error(`mutation: no module matches; modules: ${MUTATION_MODULES.map((m) => m.name).join(', ')}`);
  process.exit(2);
}

const run = options.ci ? 'ci' : 'full';
const dir = `test-artifacts/mutation/${run}`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const config = {
  $schema: '../../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: modules.flatMap((m) => m.files),
  coverageAnalysis: 'perTest',
  concurrency: options.concurrency,
  ignoreStatic: true,
  timeoutMS: 20_000,
  reporters: ['html', 'json', 'progress'],
  htmlReporter: { fileName: `${dir}/index.html` },
  jsonReporter: { fileName: `${dir}/mutation.json` },
  tempDirName: `test-artifacts/mutation/.stryker-tmp-${run}`,
  ignorePatterns: ['.tools', 'test-artifacts', '.hubless', '.sst', 'cdk.out', 'bench/results'],
  cleanTempDir: 'always',
  thresholds: { high: 90, low: MIN_SCORE, break: null },
};
const configFile = `${dir}/stryker.config.json`;
writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);

// Only the modules' own tests run; one DynamoDB Local serves every Stryker worker.
const tests = [...new Set(modules.flatMap((m) => m.tests))].filter((file) => existsSync(file));
const env: NodeJS.ProcessEnv = { ...process.env, HUBLESS_MUTATION_TESTS: tests.join(',') };
const needsDynamo = tests.some((file) => file.startsWith('test/contract/'));
const dynamo = !needsDynamo || env.HUBLESS_TEST_DYNAMODB_ENDPOINT ? undefined : await startDynamoDbLocal();
if (dynamo) env.HUBLESS_TEST_DYNAMODB_ENDPOINT = dynamo.endpoint;
const started = Date.now();
const stryker = spawnSync('npx', ['stryker', 'run', configFile], { stdio: 'inherit', env });
await dynamo?.stop();
const seconds = Math.round((Date.now() - started) / 1000);

const reportFile = `${dir}/mutation.json`;
if (stryker.status !== 0 || !existsSync(reportFile)) {
  console.error(`mutation: Stryker failed (status ${stryker.status}) after ${seconds} s`);
  process.exit(1);
}
const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
  files: Record<
    string,
    {
      source: string;
      mutants: Array<{
        status: string;
        mutatorName: string;
        replacement?: string;
        location: { start: { line: number; column: number } };
      }>;
    }
  >;
};
const byFile = countsByFile(report);
const survivors: string[] = [];
for (const [file, { mutants }] of Object.entries(report.files)) {
  for (const m of mutants) {
    if (m.status !== 'Survived' && m.status !== 'NoCoverage') continue;
    survivors.push(
      `${file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} ${JSON.stringify(m.replacement ?? '')}`,
    );
  }
}
writeFileSync(`${dir}/survivors.txt`, `${survivors.join('\n')}\n`);

console.log(`\n== mutation score per module (${run}, ${seconds} s; report: ${dir}/index.html)`);
let below = 0;
for (const module of modules) {
  const counts = sumCounts(
    module.files.map((f) => byFile.get(f) ?? { killed: 0, survived: 0, timeout: 0, noCoverage: 0, other: 0 }),
  );
  const score = mutationScore(counts);
  const shown = score === undefined ? 'n/a' : `${score.toFixed(1)}%`;
  if (score !== undefined && score < MIN_SCORE) below += 1;
  console.log(
    `${shown.padStart(6)}  ${module.name} (${counts.killed} killed, ${counts.timeout} timeout, ${counts.survived} survived, ${counts.noCoverage} no coverage)`,
  );
}
// The lab's owner check is Python: its own small mutation run (every mutant must fail pytest).
let labFailed = false;
if (!options.ci && options.modules.length === 0) {
  const lab = spawnSync('/usr/bin/python3', ['containers/lab/tests/mutate_owner_check.py'], {
    encoding: 'utf8',
  });
  const summary = /(\d+) killed, (\d+) survived/.exec(lab.stdout ?? '');
  labFailed = lab.status !== 0;
  if (summary) {
    const killed = Number(summary[1]);
    const score = (100 * killed) / (killed + Number(summary[2]));
    console.log(
      `${`${score.toFixed(1)}%`.padStart(6)}  lab owner check, Python (${summary[1]} killed, ${summary[2]} survived)`,
    );
  } else console.log(`   n/a  lab owner check, Python: ${lab.stdout}${lab.stderr}`);
  if (labFailed)
    console.log(
      (lab.stdout ?? '')
        .split('\n')
        .filter((l) => l.startsWith('SURVIVED'))
        .join('\n'),
    );
}
const total = mutationScore(sumCounts([...byFile.values()]));
console.log(
  `${(total ?? 0).toFixed(1).padStart(5)}%  all (${survivors.length} survivors listed in ${dir}/survivors.txt)`,
);
if (labFailed) {
  console.error('mutation: a mutant of the lab owner check survived its pytest suite');
  process.exit(1);
}
if (below > 0) {
  console.error(`mutation: ${below} module(s) under ${MIN_SCORE}%`);
  process.exit(1);
}
