import middy from '@middy/core';
import { errorResult } from '../handlers/api/http.ts';
import { makeApiHandler } from '../handlers/api.ts';
import type { HttpApiEvent, HttpApiResult } from '../handlers/http-types.ts';
import { awsApiDeps, awsInvocationDeadline, awsLogger } from '../wiring/aws.ts';
import { invocationDeadline, invocationLog, lastResort } from './middleware.ts';

/** The machine API Lambda, behind API Gateway's HTTP API (stacks/Api.ts). */
const logger = awsLogger();
let api: ((event: HttpApiEvent) => Promise<HttpApiResult>) | undefined;

export const handler = middy<HttpApiEvent, HttpApiResult>()
  .use(invocationDeadline(awsInvocationDeadline()))
  .use(invocationLog<HttpApiEvent>(logger, (event) => event.requestContext.requestId))
  .use(
    lastResort<HttpApiEvent, HttpApiResult>(logger, (event, error) => errorResult(event, error, logger.log)),
  )
  .handler(async (event) => {
    api ??= makeApiHandler(await awsApiDeps());
    return api(event);
  });
