import { ServiceException } from '@smithy/smithy-client';

/**
 * An error as the SDK raises it for an AWS error response: `name` is the exception's
 * shape name (what adapters switch on), `$fault` and `$metadata.httpStatusCode` are what
 * the SDK's retry strategy reads to decide throttling or transient.
 */
export function awsError(
  name: string,
  message: string,
  options: { status?: number; extra?: Record<string, unknown> } = {},
): ServiceException {
  const status = options.status ?? (name === 'ThrottlingException' ? 400 : 400);
  const error = new ServiceException({
    name,
    message,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, requestId: crypto.randomUUID(), attempts: 1 },
  });
  Object.assign(error, options.extra ?? {});
  return error;
}

export const throttled = (service: string) =>
  awsError('ThrottlingException', `Rate exceeded (simulated ${service} throttling)`);
