import { describe, expect, it } from 'vitest';
import {
  ALL_HUB_SCOPES,
  expandHubScopes,
  grantedHubScopes,
  isHubScope,
  normaliseScopes,
  parseHubScopeList,
} from '../../functions/core/api/scopes.ts';
import { ValidationError } from '../../functions/core/errors.ts';

// The full scope tables, written out: widening or narrowing any family shows up here.
describe('scopes', () => {
  describe('normaliseScopes', () => {
    it.each([
      ['users:read', ['users:read']],
      ['users:write', ['users:write']],
      ['servers:read', ['servers:read']],
      ['servers:write', ['servers:write']],
      ['launch', ['launch']],
      ['list:users', ['users:read']],
      ['read:users', ['users:read']],
      ['users', ['users:read', 'users:write']],
      ['admin:users', ['users:read', 'users:write']],
      ['servers', ['servers:read', 'servers:write']],
      ['admin:servers', ['servers:read', 'servers:write']],
      ['read:servers', ['servers:read']],
      ['read:users:name', []],
      ['delete:users', []],
      ['users:activity', []],
      ['delete:servers', []],
    ])('maps %s to exactly %j', (granted, scopes) => {
      expect(normaliseScopes(granted)).toEqual(scopes);
      expect(normaliseScopes(`hubless/${granted}`)).toEqual(scopes);
    });

    it('splits a scope claim on any whitespace and ignores empty parts', () => {
      expect(normaliseScopes('  launch\tusers:read\n')).toEqual(['users:read', 'launch']);
      expect(normaliseScopes(undefined)).toEqual([]);
      expect(normaliseScopes('')).toEqual([]);
    });

    it('ignores names of object properties (toString, constructor)', () => {
      expect(normaliseScopes('toString constructor __proto__ launch')).toEqual(['launch']);
      expect(grantedHubScopes('toString constructor')).toEqual([]);
    });

    it('strips only its own resource server', () => {
      expect(normaliseScopes('lms/launch hubless/launch', 'lms')).toEqual(['launch']);
      expect(normaliseScopes('hubless/launch', 'lms')).toEqual([]);
      expect(normaliseScopes('hublesslaunch')).toEqual([]);
    });
  });

  describe('grantedHubScopes', () => {
    it.each([
      [
        'users:read',
        ['list:users', 'read:users', 'read:users:name', 'read:users:groups', 'read:users:activity'],
      ],
      [
        'users:write',
        [
          'users',
          'list:users',
          'read:users',
          'read:users:name',
          'read:users:groups',
          'read:users:activity',
          'users:activity',
        ],
      ],
      ['servers:read', ['read:users:name', 'read:servers']],
      [
        'servers:write',
        [
          'read:users:name',
          'read:users:activity',
          'users:activity',
          'servers',
          'read:servers',
          'delete:servers',
        ],
      ],
      ['launch', []],
    ])('maps the client scope %s to exactly %j', (granted, hub) => {
      expect(grantedHubScopes(granted).sort()).toEqual([...hub].sort());
    });

    it('passes JupyterHub names through, expanded, and drops unknown ones', () => {
      expect(grantedHubScopes(['admin:users', 'nope'])).toEqual([
        'admin:users',
        'users',
        'delete:users',
        'list:users',
        'read:users',
        'read:users:name',
        'read:users:groups',
        'read:users:activity',
        'users:activity',
      ]);
      expect(grantedHubScopes(undefined)).toEqual([]);
    });
  });

  describe('expandHubScopes', () => {
    it('expands admin:servers to every server scope, in table order', () => {
      expect(expandHubScopes(['admin:servers'])).toEqual([
        'read:users:name',
        'admin:servers',
        'servers',
        'read:servers',
        'delete:servers',
      ]);
    });
    it('ignores unknown scopes and repeats', () => {
      expect(expandHubScopes(['delete:users', 'delete:users', 'x'])).toEqual(['delete:users']);
    });
  });

  it('knows exactly the JupyterHub scopes it serves', () => {
    expect(isHubScope('servers')).toBe(true);
    expect(isHubScope('toString')).toBe(false);
    expect(isHubScope('access:servers')).toBe(false);
    expect(ALL_HUB_SCOPES).toHaveLength(13);
  });

  describe('parseHubScopeList', () => {
    it('keeps known scopes once each', () => {
      expect(parseHubScopeList(['servers', 'servers', 'read:users'])).toEqual(['servers', 'read:users']);
      expect(parseHubScopeList([])).toEqual([]);
    });

    it('refuses a filtered scope, saying what to drop', () => {
      let caught: unknown;
      try {
        parseHubScopeList(['servers!user=alice']);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).code).toBe('invalid_scope');
      expect((caught as ValidationError).message).toBe(
        `"servers!user=alice" has a filter; hubless grants scopes on all users (drop "!user=alice"). Scopes are JupyterHub's names: ${ALL_HUB_SCOPES.join(', ')}.`,
      );
    });

    it('refuses an unknown scope and names every problem', () => {
      expect(() => parseHubScopeList(['servers', 'access:servers', 'x!y'])).toThrow(
        /^"access:servers" is not a JupyterHub scope hubless serves; "x!y" has a filter/,
      );
    });
  });
});
