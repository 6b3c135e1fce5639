import { existsSync } from 'node:fs';
import path from 'node:path';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { HANDLER_NAMES, LAMBDA_ENTRY_DIR } from '../../stacks/lambda.ts';

/**
 * Each Lambda entry point, bundled the way it ships (ESM for Node 24, minified, AWS SDK
 * included so our lockfile pins it), stays under 1 MB: cold starts grow with bundle size.
 * `mainFields` module-first is what SST's ESM build uses: the SDK's ES modules tree-shake,
 * its CommonJS builds do not (about 1.45 MB instead of 1.0 MB for the portal).
 */
const HANDLERS = HANDLER_NAMES;
const LIMIT = 1024 * 1024;

describe('Lambda bundles', () => {
  for (const name of HANDLERS) {
    it(`bundles ${LAMBDA_ENTRY_DIR}/${name}.ts under 1 MB`, async () => {
      const entry = path.resolve(LAMBDA_ENTRY_DIR, `${name}.ts`);
      // A missing entry point must fail here, not be skipped: sst deploy would fail the same way.
      expect(existsSync(entry), `${LAMBDA_ENTRY_DIR}/${name}.ts does not exist`).toBe(true);
      const result = await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node24',
        minify: true,
        mainFields: ['module', 'main'],
        metafile: true,
        write: false,
        logLevel: 'silent',
      });
      const bytes = result.outputFiles.reduce((sum, file) => sum + file.contents.byteLength, 0);
      console.info(
        `[bundle] ${name}: ${(bytes / 1024).toFixed(1)} KiB; largest: ${largestPackages(result.metafile).join(', ')}`,
      );
      expect(bytes).toBeLessThan(LIMIT);
    });
  }
});

/** The five packages that weigh most in the bundle, to say what to trim when it grows. */
function largestPackages(metafile: Metafile): string[] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
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
