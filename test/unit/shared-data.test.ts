import { describe, expect, it } from 'vitest';
import { sharedDataAccess } from '../../functions/core/shared-data.ts';
import { startServer } from '../../functions/core/use-cases/start-server.ts';
import { makeTestDeps } from '../fakes/core-deps.ts';
import { FakeCompute } from '../fakes/fake-compute.ts';

describe('shared data', () => {
  it('is writable only for course admins: course-admins, or the admin group of a course', () => {
    expect(sharedDataAccess([])).toBe('read');
    expect(sharedDataAccess(['py-101-17acba45'])).toBe('read');
    expect(sharedDataAccess(['py-101-17acba45', 'py-101-17acba45-admins'])).toBe('write');
    expect(sharedDataAccess(['course-admins'])).toBe('write');
  });

  it('reaches the compute with every start', async () => {
    const compute = new FakeCompute();
    const deps = makeTestDeps({ compute });
    try {
      await startServer(deps, { user: 'ada', server: '', groups: ['py-101-17acba45'] });
      await startServer(deps, { user: 'grace', server: '', groups: ['py-101-17acba45-admins'] });
      expect(compute.calls.start.map((spec) => [spec.user, spec.sharedData])).toEqual([
        ['ada', 'read'],
        ['grace', 'write'],
      ]);
    } finally {
      compute.dispose();
    }
  });
});
