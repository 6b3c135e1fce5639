import path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Function as SstFunction, type Stack } from 'sst/constructs';
import type { StageConfig } from './config.ts';
import { LAMBDA_BUNDLE } from './lambda-bundle.ts';

/** CDK context key that moves the entry point directory (tests point it at stub handlers). */
export const HANDLERS_DIR_CONTEXT_KEY = 'hubless:handlersDir';
/** The Lambda entry points: middy and middleware around a handler, the only importers of the AWS wiring. */
export const LAMBDA_ENTRY_DIR = 'functions/lambda';

/** Every Lambda entry point in functions/lambda (the probe is the culler's in-VPC helper). */
export const HANDLER_NAMES = [
  'portal',
  'api',
  'launcher',
  'task-events',
  'culler',
  'lab-probe',
  // Cognito's pre sign-up trigger, deployed only with `federation` (stacks/Identity.ts).
  'federated-sign-up',
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export interface HublessFunctionProps {
  handler: HandlerName;
  environment: Record<string, string>;
  config: StageConfig;
  memorySize?: number;
  timeout?: Duration;
  /** Set only for the function that must reach lab tasks directly (the activity probe). */
  vpc?: { vpc: IVpc; subnetType: SubnetType; securityGroup: ISecurityGroup };
}

/**
 * One hubless Lambda: Node 24 on arm64, an esbuild ESM bundle split in chunks
 * (lambda-bundle.ts; SST bundles it at deploy, the SDK included so its version is pinned
 * by our lockfile, not by the runtime), its own
 * log group with the stage's retention. Permissions are granted by the caller, where the
 * resources are bound.
 */
export function hublessFunction(stack: Stack, id: string, props: HublessFunctionProps): SstFunction {
  const handlersDir: string = stack.node.tryGetContext(HANDLERS_DIR_CONTEXT_KEY) ?? LAMBDA_ENTRY_DIR;
  // A log group we own (instead of logRetention) avoids CDK's LogRetention custom resource and its wildcard role.
  const logGroup = new LogGroup(stack, `${id}Logs`, {
    retention: retentionDays(props.config.retentionDays),
  });
  const fn = new SstFunction(stack, id, {
    handler: path.join(handlersDir, `${props.handler}.handler`),
    runtime: 'nodejs24.x',
    architecture: 'arm_64',
    memorySize: props.memorySize ?? 512,
    timeout: (props.timeout ?? Duration.seconds(29)).toSeconds(),
    logGroup,
    environment: props.environment,
    nodejs: {
      format: LAMBDA_BUNDLE.format,
      minify: LAMBDA_BUNDLE.minify,
      splitting: LAMBDA_BUNDLE.splitting,
      sourcemap: false,
      esbuild: { target: LAMBDA_BUNDLE.target, mainFields: [...LAMBDA_BUNDLE.mainFields] },
    },
    ...(props.vpc
      ? {
          vpc: props.vpc.vpc,
          vpcSubnets: { subnetType: props.vpc.subnetType },
          securityGroups: [props.vpc.securityGroup],
        }
      : {}),
  });
  NagSuppressions.addResourceSuppressions(
    fn,
    [
      {
        id: 'AwsSolutions-IAM4',
        reason:
          'AWSLambdaBasicExecutionRole (and AWSLambdaVPCAccessExecutionRole for VPC functions) only allow writing the function logs and managing its own ENIs; every hubless permission is an inline, resource-scoped statement.',
        appliesTo: [
          'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
          'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
        ],
      },
    ],
    true,
  );
  return fn;
}

/** Maps validated days onto the CDK enum (its values are the day counts). */
export function retentionDays(days: number): RetentionDays {
  return days as RetentionDays;
}
