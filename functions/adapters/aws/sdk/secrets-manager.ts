/** Loaded by functions/wiring/aws.ts on the first call that needs it (adapters/aws/lazy-client.ts). */
export { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
