/** Loaded by functions/wiring/aws.ts on the first call that needs it (adapters/aws/lazy-client.ts). */
export { ECSClient } from '@aws-sdk/client-ecs';
