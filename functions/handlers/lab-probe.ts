import type { ProbeBatch, ProbeBatchResult, ProbeOutcome } from '../adapters/aws/lambda-probe.ts';
import { DependencyTimeoutError } from '../core/errors.ts';
import type { LabActivity } from '../core/ports.ts';

export interface LabProbeDeps {
  /** Reads one lab's activity (LabActivityReader.read). */
  read(root: string, token: string): Promise<LabActivity>;
}

/**
 * The activity probe, run inside the VPC for a culler that is not (stacks/Schedules.ts):
 * probes every lab of the batch at once and answers one outcome per lab, in order. A
 * malformed batch is a programming error on our side and fails the invocation.
 */
export function makeLabProbeHandler(deps: LabProbeDeps) {
  return async (batch: ProbeBatch): Promise<ProbeBatchResult> => {
    if (!Array.isArray(batch?.probes))
      throw new TypeError('lab-probe: expected { probes: [{ root, token }] }');
    const results = await Promise.all(
      batch.probes.map(async ({ root, token }): Promise<ProbeOutcome> => {
        try {
          return { activity: await deps.read(root, token) };
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          return {
            error: { kind: error instanceof DependencyTimeoutError ? 'timeout' : 'unreachable', reason },
          };
        }
      }),
    );
    return { results };
  };
}
