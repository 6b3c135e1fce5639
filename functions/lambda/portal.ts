import middy from '@middy/core';
import type { AlbEvent, AlbResult } from '../handlers/http-types.ts';
import { portalErrorResult } from '../handlers/portal/routes.ts';
import { makePortalHandler } from '../handlers/portal.ts';
import { awsInvocationDeadline, awsLogger, awsPortalDeps } from '../wiring/aws.ts';
import { invocationDeadline, invocationLog, lastResort } from './middleware.ts';

/** The portal Lambda, target of every ALB's catch-all rule (stacks/Routing.ts). */
const logger = awsLogger();
let portal: ((event: AlbEvent) => Promise<AlbResult>) | undefined;

export const handler = middy<AlbEvent, AlbResult>()
  .use(invocationDeadline(awsInvocationDeadline()))
  .use(invocationLog<AlbEvent>(logger, (event) => event.headers['x-amzn-trace-id']))
  .use(lastResort<AlbEvent, AlbResult>(logger, (event, error) => portalErrorResult(event, error, logger.log)))
  .handler(async (event) => {
    portal ??= makePortalHandler(await awsPortalDeps());
    return portal(event);
  });
