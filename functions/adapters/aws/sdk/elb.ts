/** Loaded by functions/wiring/aws.ts on the first call that needs it (adapters/aws/lazy-client.ts). */
export { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
