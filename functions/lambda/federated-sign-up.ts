import middy from '@middy/core';
import { makeFederatedSignUpHandler, type PreSignUpEvent } from '../handlers/federated-sign-up.ts';
import { awsFederatedSignUpDeps, awsInvocationDeadline, awsLogger } from '../wiring/aws.ts';
import { invocationDeadline, invocationLog } from './middleware.ts';

/** Cognito's pre sign-up trigger: links a federated identity to its hubless user (stacks/Identity.ts). */
const logger = awsLogger();
let signUp: ReturnType<typeof makeFederatedSignUpHandler> | undefined;

export const handler = middy<PreSignUpEvent, PreSignUpEvent>()
  .use(invocationDeadline(awsInvocationDeadline()))
  .use(invocationLog<PreSignUpEvent>(logger, (event) => event.userName))
  .handler(async (event) => {
    signUp ??= makeFederatedSignUpHandler(awsFederatedSignUpDeps());
    return signUp(event);
  });
