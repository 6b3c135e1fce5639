import { randomBytes } from 'node:crypto';

/**
 * Random identifiers in hex: safe in session ids (which use "_" as a separator), ECS
 * startedBy, URLs and file names.
 */
export function randomHex(bytes = 9): string {
  return randomBytes(bytes).toString('hex');
}
