/** Loaded by functions/wiring/aws.ts on the first call that needs it (adapters/aws/lazy-client.ts). */
export { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
