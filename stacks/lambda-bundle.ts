import type { Metafile } from 'esbuild';

/**
 * How a Lambda entry point is bundled: by SST at deploy (stacks/lambda.ts), and the same
 * way by the bundle-size test and the cold-start benchmark, so they measure what ships.
 * Code splitting makes every `import()` its own chunk, read and compiled only when a
 * request first needs it: the AWS SDK clients are loaded so (adapters/aws/lazy-client.ts),
 * and a cold start compiles only the entry chunk and what it imports statically.
 */
export const LAMBDA_BUNDLE = {
  format: 'esm',
  minify: true,
  splitting: true,
  target: 'node24',
  /** SST's ESM default: the SDK's ES modules tree-shake, its CommonJS builds do not. */
  mainFields: ['module', 'main'],
} as const;

/** A chunk and every chunk it imports statically: what importing it loads, before any request. */
export function staticChunks(outputs: Metafile['outputs'], entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    const output = outputs[file];
    if (seen.has(file) || !output) continue;
    seen.add(file);
    for (const imported of output.imports)
      if (imported.kind === 'import-statement') queue.push(imported.path);
  }
  return [...seen];
}
