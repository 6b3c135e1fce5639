import middy from '@middy/core';
import type { TaskStateChangeEvent } from '../core/task-event.ts';
import { makeTaskEventsHandler } from '../handlers/task-events.ts';
import { awsCoreDeps, awsInvocationDeadline, awsLogger } from '../wiring/aws.ts';
import { invocationDeadline, invocationLog, lastResort } from './middleware.ts';

/** ECS task state changes of the cluster, delivered by an EventBridge rule (stacks/Schedules.ts). */
type Delivered = TaskStateChangeEvent & { id?: string };

const logger = awsLogger();
let taskEvents: ReturnType<typeof makeTaskEventsHandler> | undefined;

export const handler = middy<Delivered>()
  .use(invocationDeadline(awsInvocationDeadline()))
  .use(invocationLog<Delivered>(logger, (event) => event.id))
  .use(lastResort<Delivered, unknown>(logger))
  .handler(async (event) => {
    taskEvents ??= makeTaskEventsHandler(await awsCoreDeps());
    return taskEvents(event);
  });
