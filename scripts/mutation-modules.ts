/**
 * What `npm run mutation` mutates: the code that guards users and their data, grouped
 * into the modules its report scores. `ci` marks the fast subset `.ci/run` runs
 * (`npm run mutation -- --ci`): modules whose unit tests alone kill their mutants.
 */
export interface MutationModule {
  name: string;
  files: string[];
  /** The tests that guard it (unit and contract only: Stryker runs them once per mutant). */
  tests: string[];
  ci: boolean;
}

export const MUTATION_MODULES: MutationModule[] = [
  {
    name: 'username rule',
    files: ['functions/core/username.ts'],
    tests: ['test/unit/username.test.ts'],
    ci: true,
  },
  {
    name: 'session and lifecycle transitions',
    files: ['functions/core/session.ts', 'functions/core/lifecycle.ts'],
    // Every unit test that drives sessions through core: starts, stops, task events,
    // progress polls, culls and reconciliation all go through these transitions.
    tests: [
      'test/unit/session.test.ts',
      'test/unit/servers.test.ts',
      'test/unit/api-servers.test.ts',
      'test/unit/reconcile-fakes.test.ts',
      'test/unit/culler-sweep.test.ts',
      'test/unit/portal.test.ts',
      'test/unit/api-hub.test.ts',
      'test/unit/pool-host-urls.test.ts',
    ],
    ci: false,
  },
  {
    name: 'scopes',
    files: ['functions/core/api/scopes.ts'],
    tests: ['test/unit/api-machine-token.test.ts', 'test/unit/scopes.test.ts'],
    ci: false,
  },
  {
    name: 'launch links',
    files: ['functions/core/use-cases/launch-links.ts'],
    tests: ['test/unit/api-launch.test.ts'],
    ci: false,
  },
  {
    name: 'culling policy',
    files: ['functions/core/culling/policy.ts'],
    tests: ['test/unit/culler-policy.test.ts'],
    ci: false,
  },
  {
    name: 'DynamoDB store conditions',
    files: [
      'functions/adapters/dynamodb/session-store.ts',
      'functions/adapters/dynamodb/launch-link-store.ts',
      'functions/adapters/dynamodb/lease-store.ts',
      'functions/adapters/dynamodb/service-token-store.ts',
    ],
    tests: [
      'test/unit/dynamodb-session-store.test.ts',
      'test/contract/session-store-dynamo.test.ts',
      'test/contract/api-stores-dynamo.test.ts',
      'test/contract/service-token-store.test.ts',
      'test/contract/lease-store.test.ts',
    ],
    ci: false,
  },
  {
    name: 'identity verification',
    files: ['functions/adapters/identity/alb-identity.ts', 'functions/adapters/identity/machine-token.ts'],
    tests: [
      'test/unit/identity-alb.test.ts',
      'test/unit/api-machine-token.test.ts',
      'test/unit/machine-token.test.ts',
    ],
    ci: false,
  },
  {
    name: 'gateway identity headers',
    files: ['functions/local/gateway/identity-headers.ts'],
    tests: ['test/unit/gateway-identity-headers.test.ts'],
    ci: true,
  },
  {
    name: 'gateway cookies and sessions',
    files: ['functions/local/gateway/sessions.ts'],
    tests: ['test/unit/gateway-identity-headers.test.ts'],
    ci: false,
  },
];

/** Stryker's score: detected (killed or timed out) over all valid mutants, as a percentage. */
export interface MutantCounts {
  killed: number;
  survived: number;
  timeout: number;
  noCoverage: number;
  other: number;
}

export function mutationScore(counts: MutantCounts): number | undefined {
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  return valid === 0 ? undefined : (100 * detected) / valid;
}

/** Counts by status of the mutants in a Stryker JSON report, per file. */
export function countsByFile(report: {
  files: Record<string, { mutants: Array<{ status: string }> }>;
}): Map<string, MutantCounts> {
  const out = new Map<string, MutantCounts>();
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const counts: MutantCounts = { killed: 0, survived: 0, timeout: 0, noCoverage: 0, other: 0 };
    for (const { status } of mutants) {
      if (status === 'Killed') counts.killed += 1;
      else if (status === 'Survived') counts.survived += 1;
      else if (status === 'Timeout') counts.timeout += 1;
      else if (status === 'NoCoverage') counts.noCoverage += 1;
      else counts.other += 1;
    }
    out.set(file, counts);
  }
  return out;
}

export function sumCounts(all: MutantCounts[]): MutantCounts {
  const total: MutantCounts = { killed: 0, survived: 0, timeout: 0, noCoverage: 0, other: 0 };
  for (const c of all) {
    total.killed += c.killed;
    total.survived += c.survived;
    total.timeout += c.timeout;
    total.noCoverage += c.noCoverage;
    total.other += c.other;
  }
  return total;
}
