/**
 * What the stacks would set in a control-plane Lambda's environment
 * (functions/wiring/aws-settings.ts), with made-up values and fake credentials, for code
 * that builds the real AWS wiring without an account: bench/cold-start.ts and the wiring's
 * unit tests. Nothing here reaches AWS; point DynamoDB at a stub (startConfigStub in
 * ./deployment-config.ts) with AWS_ENDPOINT_URL_DYNAMODB.
 */
export const FAKE_LAMBDA_ENV: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHFAKE',
  AWS_SECRET_ACCESS_KEY: 'bench-fake-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
  HUBLESS_TABLE_NAME: 'hubless-bench',
  HUBLESS_STAGE: 'bench',
  HUBLESS_CLUSTER_ARN: 'arn:aws:ecs:eu-west-1:123456789012:cluster/hubless-bench',
  HUBLESS_LAB_IMAGE: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/hubless-lab:bench',
  HUBLESS_FILE_SYSTEM_ID: 'fs-0123456789abcdef0',
  HUBLESS_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/hubless-bench-execution',
  HUBLESS_TASK_ROLE_ARN: 'arn:aws:iam::123456789012:role/hubless-bench-task',
  HUBLESS_SUBNETS: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  HUBLESS_LAB_SECURITY_GROUPS: 'sg-0123456789abcdef0',
  HUBLESS_LOG_GROUP: '/hubless/bench/labs',
  HUBLESS_VPC_ID: 'vpc-0123456789abcdef0',
  HUBLESS_USER_POOL_ID: 'eu-west-1_BENCHPOOL',
  HUBLESS_USER_POOL_ARN: 'arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_BENCHPOOL',
  HUBLESS_USER_POOL_CLIENT_ID: 'benchclientid0123456789',
  HUBLESS_USER_POOL_DOMAIN: 'hubless-bench',
  HUBLESS_PUBLIC_URL: 'https://hub.bench.example.org',
  HUBLESS_LAUNCH_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/hubless-bench-launches',
  HUBLESS_LAB_TOKEN_KEY_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hubless-bench-lab-token',
};

/** The one balancer of FAKE_LAMBDA_ENV's pool (its HTTPS listener). */
export const FAKE_LISTENER_ARN =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/hubless-bench-0/0123456789abcdef/0123456789abcdef';
