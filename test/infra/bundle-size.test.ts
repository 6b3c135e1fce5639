import { existsSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { HANDLER_NAMES, LAMBDA_ENTRY_DIR } from '../../stacks/lambda.ts';
import { LAMBDA_BUNDLE, staticChunks } from '../../stacks/lambda-bundle.ts';

/**
 * Each Lambda entry point, bundled the way it ships (stacks/lambda-bundle.ts: ESM for
 * Node 24, minified, split in chunks, AWS SDK included so our lockfile pins it), stays
 * under 1 MB in all, and what a cold start loads before its first request (the entry
 * chunk and its static imports) holds no AWS SDK client but the session table's: the
 * others are chunks loaded on their first call (adapters/aws/lazy-client.ts).
 * `mainFields` module-first is what SST's ESM build uses: the SDK's ES modules tree-shake,
 * its CommonJS builds do not (about 1.45 MB instead of 1.0 MB for the portal).
 */
const HANDLERS = HANDLER_NAMES;
const LIMIT = 1024 * 1024;

async function bundle(name: string): Promise<{ outputs: Metafile['outputs']; entry: string }> {
  const entry = path.resolve(LAMBDA_ENTRY_DIR, `${name}.ts`);
  // A missing entry point must fail here, not be skipped: sst deploy would fail the same way.
  expect(existsSync(entry), `${LAMBDA_ENTRY_DIR}/${name}.ts does not exist`).toBe(true);
  const result = await build({
    ...LAMBDA_BUNDLE,
    mainFields: [...LAMBDA_BUNDLE.mainFields],
    entryPoints: { [name]: entry },
    outdir: 'bundle-out',
    bundle: true,
    platform: 'node',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const outputs = result.metafile.outputs;
  const entryChunk = Object.keys(outputs).find((file) => file.endsWith(`/${name}.js`));
  if (!entryChunk) throw new Error(`no entry chunk for ${name} among ${Object.keys(outputs).join(', ')}`);
  return { outputs, entry: entryChunk };
}

/** An SDK client class module other than the session table's, e.g. client-ecs/dist-es/ECSClient.js. */
const LAZY_CLIENT = /@aws-sdk\/client-(?!dynamodb\/)[^/]+\/dist-es\/[A-Za-z0-9]+Client\.js$/;

describe('Lambda bundles', () => {
  for (const name of HANDLERS) {
    it(`bundles ${LAMBDA_ENTRY_DIR}/${name}.ts under 1 MB`, async () => {
      const { outputs, entry } = await bundle(name);
      const bytes = Object.values(outputs).reduce((sum, output) => sum + output.bytes, 0);
      const atImport = staticChunks(outputs, entry).reduce(
        (sum, file) => sum + (outputs[file]?.bytes ?? 0),
        0,
      );
      console.info(
        `[bundle] ${name}: ${(bytes / 1024).toFixed(1)} KiB, ${(atImport / 1024).toFixed(1)} KiB loaded at import; largest: ${largestPackages(outputs).join(', ')}`,
      );
      expect(bytes).toBeLessThan(LIMIT);
    });

    it(`loads no AWS SDK client but DynamoDB's when ${name} is imported`, async () => {
      const { outputs, entry } = await bundle(name);
      const loaded = staticChunks(outputs, entry).flatMap((file) => Object.keys(outputs[file]?.inputs ?? {}));
      expect(loaded.filter((input) => LAZY_CLIENT.test(input))).toEqual([]);
      // The check can fail: the chunks loaded later do hold the clients the handler uses.
      if (name !== 'lab-probe') {
        const all = Object.values(outputs).flatMap((output) => Object.keys(output.inputs));
        expect(all.filter((input) => LAZY_CLIENT.test(input)).length).toBeGreaterThan(0);
      }
    });
  }
});

/** The five packages that weigh most in the bundle, to say what to trim when it grows. */
function largestPackages(outputs: Metafile['outputs']): string[] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(outputs)) {
    for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg =
        file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? file.split('/').slice(0, 2).join('/');
      sizes.set(pkg, (sizes.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([pkg, size]) => `${pkg} ${(size / 1024).toFixed(0)} KiB`);
}
