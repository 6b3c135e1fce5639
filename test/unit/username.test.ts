import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/core/errors.ts';
import { normaliseServerName, normaliseUsername } from '../../functions/core/username.ts';

describe('normaliseUsername', () => {
  it('accepts simple logins and lowercases them', () => {
    expect(normaliseUsername('alice')).toBe('alice');
    expect(normaliseUsername('Bob-2')).toBe('bob-2');
    expect(normaliseUsername('  carol ')).toBe('carol');
  });

  it.each([
    ['a path traversal', '../x'],
    ['a slash', 'a/b'],
    ['the empty string', ''],
    ['300 characters', 'a'.repeat(300)],
    ['a control character', 'ali\u0000ce'],
    ['a newline', 'alice\nbob'],
    ['an underscore (the session id separator)', 'a_b'],
    ['a leading digit', '1alice'],
    ['a trailing hyphen', 'alice-'],
    ['a double hyphen', 'a--b'],
    ['an email address', 'alice@example.com'],
  ])('refuses %s with a 400 that says which characters are allowed', (_label, login) => {
    let caught: unknown;
    try {
      normaliseUsername(login);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    const error = caught as ValidationError;
    expect(error.status).toBe(400);
    expect(error.expose).toBe(true);
    expect(error.message).toMatch(/letters a-z, digits 0-9 and single hyphens/);
    // The message quotes the login: it must not carry control characters into logs or pages.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
    expect(error.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('accepts a username of exactly 32 characters, the README’s limit', () => {
    const longest = `a${'b'.repeat(31)}`;
    expect(longest).toHaveLength(32);
    expect(normaliseUsername(longest)).toBe(longest);
    expect(normaliseUsername(`  ${longest.toUpperCase()} `)).toBe(longest);
  });

  it('refuses a username of 33 characters, saying how long it is', () => {
    expect(() => normaliseUsername('a'.repeat(33))).toThrow(/is 33 characters long.*1-32 characters/);
  });

  it('counts the length after trimming, so spaces around a 32-character login do not refuse it', () => {
    expect(normaliseUsername(` ${'c'.repeat(32)} `)).toBe('c'.repeat(32));
  });

  it('refuses values that are not strings', () => {
    expect(() => normaliseUsername(42)).toThrow(ValidationError);
  });
});

describe('normaliseServerName', () => {
  it('treats a missing name as the default server', () => {
    expect(normaliseServerName(undefined)).toBe('');
    expect(normaliseServerName('')).toBe('');
  });
  it('applies the username rule to named servers', () => {
    expect(normaliseServerName('Project-A')).toBe('project-a');
    expect(() => normaliseServerName('../etc')).toThrow(/Server names may contain only/);
  });
});
