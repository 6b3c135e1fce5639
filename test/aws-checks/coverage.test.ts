import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every test file under test/. */
function testFiles(dir = 'test'): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

describe('service-model coverage', () => {
  it('every test that drives AWS SDK clients (mocked, or DynamoDB Local) validates their requests', () => {
    const drivers = testFiles().filter((file) => {
      const text = readFileSync(file, 'utf8');
      return /mockClient\(|useTestDynamo\(\)|fakeAwsAccount\(/.test(text);
    });
    expect(drivers.length).toBeGreaterThan(10);
    const unchecked = drivers.filter(
      (file) => !readFileSync(file, 'utf8').includes("import '../support/aws-calls/checked.ts';"),
    );
    expect(unchecked, "add `import '../support/aws-calls/checked.ts';` to these").toEqual([]);
  });
});
