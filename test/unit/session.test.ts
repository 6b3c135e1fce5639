import { describe, expect, it } from 'vitest';
import { InvalidStateError } from '../../functions/core/errors.ts';
import {
  baseUrlFor,
  canTransition,
  newSessionId,
  parseSessionId,
  type Session,
  transition,
} from '../../functions/core/session.ts';

const base: Session = {
  id: 'alice__abc',
  user: 'alice',
  server: '',
  profile: 'standard',
  state: 'launching',
  version: 2,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  events: [],
};

describe('session lifecycle', () => {
  it('allows only forward moves', () => {
    expect(canTransition('pending', 'launching')).toBe(true);
    expect(canTransition('running', 'ready')).toBe(true);
    expect(canTransition('ready', 'running')).toBe(false);
    expect(canTransition('stopped', 'ready')).toBe(false);
    expect(canTransition('stopping', 'ready')).toBe(false);
  });

  it('records a progress event with each described move', () => {
    const next = transition(base, 'running', new Date('2026-01-01T00:01:00Z'), {}, 'Server is running');
    expect(next.state).toBe('running');
    expect(next.events).toEqual([
      { progress: 70, message: 'Server is running', time: '2026-01-01T00:01:00.000Z' },
    ]);
    expect(next.updatedAt).toBe('2026-01-01T00:01:00.000Z');
    expect(base.events).toEqual([]);
  });

  it('refuses to resurrect a stopped session', () => {
    expect(() => transition({ ...base, state: 'stopped' }, 'ready', new Date())).toThrow(InvalidStateError);
  });
});

describe('session ids', () => {
  it('round-trips user and server', () => {
    expect(parseSessionId(newSessionId('alice', '', 'n1'))).toEqual({ user: 'alice', server: '' });
    expect(parseSessionId(newSessionId('bob', 'gpu', 'n2'))).toEqual({ user: 'bob', server: 'gpu' });
  });
  it('rejects ids that are not ours', () => {
    expect(() => parseSessionId('arn:aws:ecs:task/123')).toThrow(/not a hubless session id/);
  });
  it('gives each server its own base URL', () => {
    expect(baseUrlFor('alice', '')).toBe('/user/alice/');
    expect(baseUrlFor('alice', 'gpu')).toBe('/user/alice/gpu/');
  });
});
