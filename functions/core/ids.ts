import { randomBytes } from 'node:crypto';

/**
 * Random identifiers in hex: safe in session ids (which use "_" as a separator), ECS
 * startedBy, URLs and file names.
 */
export function randomHex(bytes = 9): string {
  return randomBytes(bytes).toString('hex');
}

const PASSWORD_CLASSES = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '-_.!@#%+='];

/**
 * A first password for a user created without an e-mail: 20 characters from every class
 * (lower, upper, digit, symbol), so it meets Cognito's policy (12+, each class) and local
 * mode's; look-alike characters (l, 1, O, 0) are left out because people copy it by hand.
 */
export function initialPassword(length = 20): string {
  const all = PASSWORD_CLASSES.join('');
  const pick = (chars: string) => chars[randomBytes(1)[0]! % chars.length] as string;
  const chars = [
    ...PASSWORD_CLASSES.map(pick),
    ...Array.from({ length: length - PASSWORD_CLASSES.length }, () => pick(all)),
  ];
  // Shuffle so the classes are not always in the same places (Fisher-Yates).
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomBytes(1)[0]! % (i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
