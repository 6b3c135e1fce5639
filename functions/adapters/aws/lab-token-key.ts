import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../../core/errors.ts';
import { awsErrorMessage, awsErrorName } from './retry.ts';

export interface SecretKeyOptions {
  secrets: Pick<SecretsManagerClient, 'send'>;
  /** The secret's name or ARN (names.ts labTokenSecretName). */
  secretId: string;
}

/**
 * Reads the lab token key from the secret the stack generated (Compute stack). Called
 * through core's hmacLabTokens, which reads it once per Lambda instance, the first time a
 * lab token is needed. A missing secret or a refused read is a deployment mistake, so it
 * says which secret and what to check.
 */
export function secretsManagerKey(options: SecretKeyOptions): () => Promise<string> {
  return async () => {
    let value: string | undefined;
    try {
      value = (await options.secrets.send(new GetSecretValueCommand({ SecretId: options.secretId })))
        .SecretString;
    } catch (error) {
      throw new ConfigError(
        `The lab token key could not be read from Secrets Manager secret "${options.secretId}" ` +
          `(${awsErrorName(error) ?? 'error'}: ${awsErrorMessage(error)}). The stack creates it; ` +
          'check that the stage is deployed and that this function is granted secretsmanager:GetSecretValue on it.',
      );
    }
    if (!value) throw new ConfigError(`Secrets Manager secret "${options.secretId}" holds no key string.`);
    return value;
  };
}
