import { ValidationError } from './errors.ts';

/**
 * Usernames become URL path segments (/user/<key>/), parts of AWS resource names
 * (target groups allow 32 characters of [A-Za-z0-9-]) and EFS paths (/home/<key>).
 * One rule keeps all three safe: lowercase letters, digits and single hyphens, starting
 * with a letter. Logins are case-insensitive, so "Alice" and "alice" are one user.
 * Anything else is refused rather than rewritten, because rewriting ("a.b" -> "a-b")
 * would let two different logins share one home directory.
 */
export const USERNAME_MAX_LENGTH = 32;
const USERNAME_PATTERN = /^[a-z](?:[a-z0-9]|-(?!-))*$/;

export const USERNAME_RULE =
  `Usernames may contain only letters a-z, digits 0-9 and single hyphens, must start with a letter, ` +
  `must not end with a hyphen, and must be 1-${USERNAME_MAX_LENGTH} characters long (for example "alice" or "bob-2").`;

/** Maps a login to its safe key, or throws a 400 that says what is allowed. */
export function normaliseUsername(login: unknown): string {
  if (typeof login !== 'string') {
    throw new ValidationError(`A username must be a string. ${USERNAME_RULE}`, 'invalid_username');
  }
  const key = login.trim().toLowerCase();
  const shown = JSON.stringify(login.length > 40 ? `${login.slice(0, 40)}…` : login);
  if (key.length === 0) {
    throw new ValidationError(`The username is empty. ${USERNAME_RULE}`, 'invalid_username');
  }
  if (key.length > USERNAME_MAX_LENGTH) {
    throw new ValidationError(
      `The username ${shown} is ${key.length} characters long. ${USERNAME_RULE}`,
      'invalid_username',
    );
  }
  if (!USERNAME_PATTERN.test(key) || key.endsWith('-')) {
    throw new ValidationError(
      `The username ${shown} has characters that are not allowed. ${USERNAME_RULE}`,
      'invalid_username',
    );
  }
  return key;
}

/**
 * Named servers ("project-a") follow the same rule; the empty name is the user's
 * default server.
 */
export function normaliseServerName(name: unknown): string {
  if (name === undefined || name === null || name === '') return '';
  if (typeof name !== 'string')
    throw new ValidationError('A server name must be a string.', 'invalid_server_name');
  try {
    return normaliseUsername(name);
  } catch {
    throw new ValidationError(
      `The server name ${JSON.stringify(name)} is not allowed. ${USERNAME_RULE.replace('Usernames', 'Server names')}`,
      'invalid_server_name',
    );
  }
}
