import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../functions/core/errors.ts';
import { normaliseServerName, normaliseUsername, USERNAME_RULE } from '../../functions/core/username.ts';

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
    expect(() => normaliseUsername('a'.repeat(33))).toThrow(
      expect.objectContaining({ code: 'invalid_username' }),
    );
  });

  it('counts the length after trimming, so spaces around a 32-character login do not refuse it', () => {
    expect(normaliseUsername(` ${'c'.repeat(32)} `)).toBe('c'.repeat(32));
  });

  it('refuses values that are not strings, saying so', () => {
    expect(() => normaliseUsername(42)).toThrow(/A username must be a string\. Usernames may contain only/);
    expect(() => normaliseUsername(42)).toThrow(expect.objectContaining({ code: 'invalid_username' }));
  });

  it('says the username is empty when it is only spaces', () => {
    expect(() => normaliseUsername('   ')).toThrow(/^The username is empty\. Usernames may contain only/);
    expect(() => normaliseUsername('')).toThrow(expect.objectContaining({ code: 'invalid_username' }));
  });

  it('quotes a long login cut at 40 characters, and a short one whole', () => {
    const long = `${'x'.repeat(40)}${'y'.repeat(10)}`;
    expect(() => normaliseUsername(long)).toThrow(`The username "${'x'.repeat(40)}…" is 50 characters long.`);
    expect(() => normaliseUsername('a.b')).toThrow('The username "a.b" has characters that are not allowed.');
    expect(() => normaliseUsername('a.b')).toThrow(expect.objectContaining({ code: 'invalid_username' }));
    const forty = 'z'.repeat(40);
    expect(() => normaliseUsername(forty)).toThrow(`The username "${forty}" is 40 characters long.`);
    expect(() => normaliseUsername(`${forty}!`)).toThrow(`The username "${forty}…" is 41 characters long.`);
  });

  it('keeps the rule a user reads in one sentence with its limits', () => {
    expect(USERNAME_RULE).toBe(
      'Usernames may contain only letters a-z, digits 0-9 and single hyphens, must start with a letter, ' +
        'must not end with a hyphen, and must be 1-32 characters long (for example "alice" or "bob-2").',
    );
  });

  it.each([
    ['a digit and a hyphen inside', 'a1-b2', 'a1-b2'],
    ['one letter', 'q', 'q'],
  ])('accepts %s', (_label, login, key) => {
    expect(normaliseUsername(login)).toBe(key);
  });

  it.each([
    ['a character before a valid name', '.alice'],
    ['a character after a valid name', 'alice.'],
    ['a leading hyphen', '-alice'],
  ])('refuses %s', (_label, login) => {
    expect(() => normaliseUsername(login)).toThrow(/has characters that are not allowed/);
  });
});

describe('normaliseServerName', () => {
  it('treats a missing name as the default server', () => {
    expect(normaliseServerName(undefined)).toBe('');
    expect(normaliseServerName(null)).toBe('');
    expect(normaliseServerName('')).toBe('');
  });
  it('refuses a server name that is not a string', () => {
    expect(() => normaliseServerName(7)).toThrow('A server name must be a string.');
    expect(() => normaliseServerName(7)).toThrow(expect.objectContaining({ code: 'invalid_server_name' }));
  });
  it('applies the username rule to named servers', () => {
    expect(normaliseServerName('Project-A')).toBe('project-a');
    expect(() => normaliseServerName('../etc')).toThrow(
      'The server name "../etc" is not allowed. Server names may contain only letters a-z',
    );
    expect(() => normaliseServerName('../etc')).toThrow(
      expect.objectContaining({ code: 'invalid_server_name' }),
    );
  });
});
