import middy from '@middy/core';
import type { ProbeBatch } from '../adapters/aws/lambda-probe.ts';
import { LabActivityReader } from '../adapters/http/activity-probe.ts';
import { JsonLogger } from '../adapters/log/json-logger.ts';
import { logLevelOf } from '../core/config.ts';
import { makeLabProbeHandler } from '../handlers/lab-probe.ts';
import { invocationLog, lastResort } from './middleware.ts';

/**
 * The in-VPC activity probe, invoked by the culler (stacks/Schedules.ts). It needs no
 * settings and no AWS client: only HTTP to the labs' private addresses, which is all its
 * security group and its subnets (no route out) allow.
 */
const logger = new JsonLogger({ level: logLevelOf(process.env) });
const reader = new LabActivityReader();
const probe = makeLabProbeHandler({ read: (root, token) => reader.read(root, token) });

export const handler = middy<ProbeBatch>()
  .use(invocationLog<ProbeBatch>(logger, () => undefined))
  .use(lastResort<ProbeBatch, unknown>(logger))
  .handler((batch) => probe(batch));
