import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import { DependencyTimeoutError, HublessError } from '../../core/errors.ts';
import type { LabTokens } from '../../core/lab-tokens.ts';
import type { ActivityProbe, LabActivity } from '../../core/ports.ts';
import type { Session } from '../../core/session.ts';
import { type LabProbeTarget, LabUnreachableError, labProbeTarget } from '../http/activity-probe.ts';

/**
 * What the culler sends the in-VPC probe function and what it answers (functions/lambda/lab-probe.ts).
 * A failed probe comes back as its kind, so the culler counts a miss exactly as it would
 * for a lab it had probed itself.
 */
export interface ProbeBatch {
  probes: LabProbeTarget[];
}
export type ProbeOutcome =
  | { activity: LabActivity }
  | { error: { kind: 'timeout' | 'unreachable'; reason: string } };
export interface ProbeBatchResult {
  results: ProbeOutcome[];
}

/** Probes per invocation: each is three parallel requests of at most 3 s, so a batch ends well within the probe's timeout. */
export const PROBE_BATCH_SIZE = 25;

export interface LambdaActivityProbeConfig {
  lambda: Pick<LambdaClient, 'send'>;
  /** Name or ARN of the probe function. */
  functionName: string;
  /** Recomputes each session's lab token, which the probe hands the lab. */
  labTokens: LabTokens;
  batchSize?: number;
}

/** The probe function itself failed (not a lab): every lab of the batch counts as not answering. */
export class ProbeFunctionError extends HublessError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('probe_failed', 502, reason, { expose: false, cause: options.cause });
  }
}

interface Pending {
  target: LabProbeTarget;
  resolve: (activity: LabActivity) => void;
  reject: (error: unknown) => void;
}

/**
 * ActivityProbe for the culler when it runs outside the VPC (the default: no NAT gateway):
 * labs' private addresses are reached by a small function inside the VPC that has no
 * route out and no AWS permissions. Probes asked for in the same turn of the event loop
 * (the sweep asks for a pool of them at once) travel together, up to `batchSize` per
 * invocation, so a sweep of 1,000 labs is 40 invocations, not 1,000.
 */
export class LambdaActivityProbe implements ActivityProbe {
  readonly #config: LambdaActivityProbeConfig;
  #queue: Pending[] = [];

  constructor(config: LambdaActivityProbeConfig) {
    this.#config = config;
  }

  async probe(session: Session): Promise<LabActivity> {
    const target = await labProbeTarget(session, this.#config.labTokens);
    return new Promise((resolve, reject) => {
      if (this.#queue.length === 0) setImmediate(() => this.#flush());
      this.#queue.push({ target, resolve, reject });
    });
  }

  #flush(): void {
    const queue = this.#queue;
    this.#queue = [];
    const size = this.#config.batchSize ?? PROBE_BATCH_SIZE;
    for (let i = 0; i < queue.length; i += size) void this.#send(queue.slice(i, i + size));
  }

  async #send(batch: Pending[]): Promise<void> {
    let results: ProbeOutcome[];
    try {
      results = await this.#invoke({ probes: batch.map((p) => p.target) });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    batch.forEach((pending, i) => {
      const outcome = results[i];
      if (outcome && 'activity' in outcome) pending.resolve(outcome.activity);
      else if (outcome?.error.kind === 'timeout')
        pending.reject(new DependencyTimeoutError(outcome.error.reason));
      else
        pending.reject(
          new LabUnreachableError(outcome?.error.reason ?? 'The probe returned no answer for this lab.'),
        );
    });
  }

  async #invoke(payload: ProbeBatch): Promise<ProbeOutcome[]> {
    const name = this.#config.functionName;
    let response: InvokeCommandOutput;
    try {
      response = await this.#config.lambda.send(
        new InvokeCommand({ FunctionName: name, Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
      );
    } catch (error) {
      throw new ProbeFunctionError(
        `The activity probe function ${name} could not be invoked: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const text = response.Payload ? new TextDecoder().decode(response.Payload) : '';
    if (response.FunctionError) {
      throw new ProbeFunctionError(
        `The activity probe function ${name} failed (${response.FunctionError}): ${text.slice(0, 300)}`,
      );
    }
    let parsed: ProbeBatchResult;
    try {
      parsed = JSON.parse(text) as ProbeBatchResult;
    } catch (error) {
      throw new ProbeFunctionError(
        `The activity probe function ${name} answered something that is not JSON.`,
        { cause: error },
      );
    }
    if (!Array.isArray(parsed?.results) || parsed.results.length !== payload.probes.length) {
      throw new ProbeFunctionError(
        `The activity probe function ${name} answered ${Array.isArray(parsed?.results) ? parsed.results.length : 'no'} results for ${payload.probes.length} labs.`,
      );
    }
    return parsed.results;
  }
}
