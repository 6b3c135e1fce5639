import middy from '@middy/core';
import { makeCullerHandler } from '../handlers/culler.ts';
import { awsCullerDeps, awsInvocationDeadline, awsLogger } from '../wiring/aws.ts';
import { invocationDeadline, invocationLog, lastResort } from './middleware.ts';

/** The idle culler, run by an EventBridge schedule (stacks/Schedules.ts); the event carries only its id. */
interface Scheduled {
  id?: string;
}

const logger = awsLogger();
let cull: ReturnType<typeof makeCullerHandler> | undefined;

export const handler = middy<Scheduled>()
  .use(invocationDeadline(awsInvocationDeadline()))
  .use(invocationLog<Scheduled>(logger, (event) => event.id))
  .use(lastResort<Scheduled, unknown>(logger))
  .handler(async () => {
    cull ??= makeCullerHandler(await awsCullerDeps());
    return cull();
  });
