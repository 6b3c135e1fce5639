import { createHash, createHmac } from 'node:crypto';
import { ConfigError } from './errors.ts';

/**
 * The secret the control plane shows a lab when it reads the lab's own API (the culler's
 * activity probe). It is derived, never stored: token = HMAC-SHA256(key, session id), so
 * it is not in the session table, not in RunTask overrides and not in task-state events,
 * where anyone allowed to read those would find it. The lab is given only SHA-256 of the
 * token (HUBLESS_LAB_TOKEN_SHA256) and compares hashes, so a lab's environment, visible
 * to whoever may describe its task, opens nothing.
 */
export interface LabTokens {
  /** The token of one session (hex). Rejects when the key cannot be read (AWS: Secrets Manager). */
  tokenFor(sessionId: string): Promise<string>;
}

/** The environment variable that carries SHA-256(token) to the lab. */
export const LAB_TOKEN_HASH_ENV = 'HUBLESS_LAB_TOKEN_SHA256';

/** SHA-256 of a token, hex: what a lab compares the hash of a presented token with. */
export function labTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * LabTokens from a key that `loadKey` reads once (the first time a token is needed, so
 * functions that never call a lab never read it). A failed read is not remembered: the
 * next call tries again.
 */
export function hmacLabTokens(loadKey: () => Promise<string | Uint8Array>): LabTokens {
  let key: Promise<string | Uint8Array> | undefined;
  return {
    async tokenFor(sessionId) {
      key ??= loadKey()
        .then((loaded) => {
          // An empty key would make every token guessable from the session id alone.
          if (loaded.length < 16)
            throw new ConfigError('The lab token key is missing or shorter than 16 bytes.');
          return loaded;
        })
        .catch((error: unknown) => {
          key = undefined;
          throw error;
        });
      return createHmac('sha256', await key)
        .update(sessionId, 'utf8')
        .digest('hex');
    },
  };
}
