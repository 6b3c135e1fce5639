import { describe, expect, it } from 'vitest';
import { principalOf } from '../../functions/core/api/service-tokens.ts';
import { apiStopReason } from '../../functions/core/api/stop-reasons.ts';

const token = (culls: boolean, user?: string) =>
  principalOf({
    id: 'a1b2c3d4e5f6',
    name: 'idle-culler',
    user,
    scopes: ['delete:servers'],
    culls,
    hash: '00',
    createdAt: '2026-11-01T00:00:00.000Z',
    createdBy: 'test',
  });

describe('apiStopReason', () => {
  it('records a culling service’s stop as an idle cull by that service', () => {
    expect(apiStopReason(token(true), 'JupyterHub API')).toEqual({
      code: 'idle',
      message: 'Stopped for inactivity by the service idle-culler.',
      by: 'service:idle-culler',
    });
  });

  it('records any other service or a user’s token as an admin stop that names who asked', () => {
    expect(apiStopReason(token(false), 'JupyterHub API')).toMatchObject({
      code: 'admin',
      by: 'service:idle-culler',
    });
    expect(apiStopReason(token(false, 'ada'), 'JupyterHub API')).toMatchObject({
      code: 'admin',
      by: 'user:ada',
    });
  });

  it('names a course platform by its client id', () => {
    expect(apiStopReason({ client: 'canvas', scopes: ['servers:write'] }, 'course platform')).toEqual({
      code: 'admin',
      message: 'Stopped by the course platform (canvas).',
      by: 'client:canvas',
    });
  });
});
