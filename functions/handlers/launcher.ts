import { decodeLaunchMessage } from '../adapters/aws/sqs-launch-queue.ts';
import type { CoreDeps } from '../core/deps.ts';
import { launchSession } from '../core/use-cases/launch-session.ts';

/** The part of an SQS event the launcher reads (Lambda's SQS event source). */
export interface LaunchQueueEvent {
  Records: Array<{
    messageId: string;
    body: string;
    attributes?: { ApproximateReceiveCount?: string };
  }>;
}

/** Lambda's partial batch response: only these messages come back (after the visibility timeout). */
export interface LaunchBatchResult {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/**
 * The launcher: takes a batch of queued launches (SQS in AWS) and launches each session
 * (core/use-cases/launch-session.ts), the batch at once; how many batches run at once is
 * the event source's maximum concurrency (stacks/Schedules.ts), which keeps RunTask near
 * Fargate's launch rate. A launch AWS was too busy for is handed back to the queue alone
 * (a partial batch failure) and redelivered; after several tries it lands in the
 * dead-letter queue and the reconciler fails the session as stuck, with a reason.
 */
export function makeLauncherHandler(deps: CoreDeps) {
  return async (event: LaunchQueueEvent): Promise<LaunchBatchResult> => {
    // First deliveries have had their turn: the places the progress pages show move up.
    const firsts = event.Records.filter((record) => record.attributes?.ApproximateReceiveCount === '1');
    if (firsts.length > 0)
      await deps.launches.taken(firsts.length).catch((error: unknown) => {
        deps.log?.('warn', 'could not count launches taken off the queue', { error: String(error) });
      });
    const failures: LaunchBatchResult['batchItemFailures'] = [];
    await Promise.all(
      event.Records.map(async (record) => {
        const message = decodeLaunchMessage(record.body);
        if (!message) {
          deps.log?.('warn', 'dropped a launch message hubless did not write', {
            messageId: record.messageId,
          });
          return;
        }
        try {
          const result = await launchSession(deps, message.sessionId);
          deps.log?.('info', 'launch', {
            sessionId: message.sessionId,
            outcome: result.outcome,
            state: result.session?.state,
          });
        } catch (error) {
          deps.log?.('warn', 'launch to be retried', {
            sessionId: message.sessionId,
            receiveCount: record.attributes?.ApproximateReceiveCount,
            error: String(error),
          });
          failures.push({ itemIdentifier: record.messageId });
        }
      }),
    );
    return { batchItemFailures: failures };
  };
}
