import middy from '@middy/core';
import { type LaunchQueueEvent, makeLauncherHandler } from '../handlers/launcher.ts';
import { awsCoreDeps, awsInvocationDeadline, awsLogger } from '../wiring/aws.ts';
import { invocationDeadline, invocationLog, lastResort } from './middleware.ts';

/** Queued launches, delivered by the launch queue's SQS event source (stacks/Schedules.ts). */
const logger = awsLogger();
let launcher: ReturnType<typeof makeLauncherHandler> | undefined;

export const handler = middy<LaunchQueueEvent>()
  .use(invocationDeadline(awsInvocationDeadline()))
  .use(invocationLog<LaunchQueueEvent>(logger, (event) => event.Records[0]?.messageId))
  .use(lastResort<LaunchQueueEvent, unknown>(logger))
  .handler(async (event) => {
    launcher ??= makeLauncherHandler(await awsCoreDeps());
    return launcher(event);
  });
