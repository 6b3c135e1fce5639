import { DependencyTimeoutError, HublessError } from '../../core/errors.ts';
import type { LabTokens } from '../../core/lab-tokens.ts';
import type { ActivityProbe, KernelActivity, LabActivity } from '../../core/ports.ts';
import { baseUrlFor, type Session } from '../../core/session.ts';

export interface LabActivityReaderOptions {
  /** Per request. Default 3000 ms. */
  timeoutMs?: number;
  /** Injectable for tests. */
  fetch?: typeof fetch;
}

export interface HttpActivityProbeOptions extends LabActivityReaderOptions {
  /** Recomputes each session's lab token (it is stored nowhere). */
  labTokens: LabTokens;
}

/** The lab answered, but not with what a Jupyter server answers (or not at all). */
export class LabUnreachableError extends HublessError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('lab_unreachable', 502, reason, { expose: false, cause: options.cause });
  }
}

/** Where a session's lab answers (its private address and base URL), and the token it accepts. */
export interface LabProbeTarget {
  root: string;
  token: string;
}

export async function labProbeTarget(session: Session, labTokens: LabTokens): Promise<LabProbeTarget> {
  if (!session.target) throw new LabUnreachableError(`Session ${session.id} has no target to probe.`);
  const host =
    session.target.host.includes(':') && !session.target.host.startsWith('[')
      ? `[${session.target.host}]`
      : session.target.host;
  return {
    root: `http://${host}:${session.target.port}${baseUrlFor(session.user, session.server)}`,
    token: await labTokens.tokenFor(session.id),
  };
}

/**
 * ActivityProbe over HTTP, for a culler that can reach the labs itself (local mode). In
 * AWS the culler runs outside the VPC and hands the same targets to the in-VPC probe
 * function (adapters/aws/lambda-probe.ts), which reads them with LabActivityReader.
 */
export class HttpActivityProbe implements ActivityProbe {
  readonly #reader: LabActivityReader;
  readonly #labTokens: LabTokens;

  constructor(options: HttpActivityProbeOptions) {
    this.#labTokens = options.labTokens;
    this.#reader = new LabActivityReader(options);
  }

  async probe(session: Session): Promise<LabActivity> {
    const { root, token } = await labProbeTarget(session, this.#labTokens);
    return this.#reader.read(root, token);
  }
}

/**
 * Reads a lab's activity over its own REST API, the way jupyterhub-idle-culler reads a
 * server: `api/status` (server-wide last_activity and connections), `api/kernels`
 * (per-kernel last_activity and execution_state) and `api/terminals`, with
 * `Authorization: token <the session's lab token>`, recomputed from the session id (never
 * stored, never in the URL).
 *
 * Kernels and terminals are read with `no_track_activity=1`: jupyter counts every
 * authenticated API request as user activity (api/status is the exception), so without
 * it the culler's own probe would keep every lab alive.
 *
 * Throws DependencyTimeoutError when a request takes longer than `timeoutMs`, and
 * LabUnreachableError for a refused connection or a non-200 answer. A 404 on
 * api/terminals means terminals are disabled, which is zero terminals.
 */
export class LabActivityReader {
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: LabActivityReaderOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Reads the lab served at `root` (its base URL on its private address), with the session's token. */
  async read(root: string, token: string): Promise<LabActivity> {
    const headers = { authorization: `token ${token}` };
    const [status, kernels, terminals] = await Promise.all([
      this.#get(`${root}api/status`, headers, false),
      this.#get(`${root}api/kernels?no_track_activity=1`, headers, false),
      this.#get(`${root}api/terminals?no_track_activity=1`, headers, true),
    ]);

    const statusBody = asRecord(status);
    const kernelList: KernelActivity[] = (Array.isArray(kernels) ? kernels : []).map((raw) => {
      const kernel = asRecord(raw);
      return {
        id: String(kernel.id ?? ''),
        executionState: String(kernel.execution_state ?? 'unknown'),
        lastActivity: optionalString(kernel.last_activity),
        connections: typeof kernel.connections === 'number' ? kernel.connections : undefined,
      };
    });
    const terminalList = Array.isArray(terminals) ? terminals.map(asRecord) : [];
    const terminalTimes = terminalList
      .map((t) => optionalString(t.last_activity))
      .filter((t): t is string => !!t);
    return {
      lastActivity: optionalString(statusBody.last_activity),
      connections: typeof statusBody.connections === 'number' ? statusBody.connections : 0,
      kernels: kernelList,
      terminals: terminalList.length,
      terminalLastActivity: terminalTimes.sort((a, b) => Date.parse(b) - Date.parse(a))[0],
    };
  }

  async #get(url: string, headers: Record<string, string>, notFoundIsEmpty: boolean): Promise<unknown> {
    const path = new URL(url).pathname;
    let response: Response;
    try {
      response = await this.#fetch(url, {
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw new DependencyTimeoutError(
          `The lab did not answer ${path} within ${this.#timeoutMs} ms (server overloaded, hung, or cut off from the control plane).`,
          { cause: error },
        );
      }
      throw new LabUnreachableError(`The lab could not be reached at ${path}: ${(error as Error).message}.`, {
        cause: error,
      });
    }
    try {
      if (response.status === 404 && notFoundIsEmpty) return [];
      if (response.status !== 200) {
        throw new LabUnreachableError(
          `The lab answered ${path} with HTTP ${response.status}` +
            (response.status === 401 || response.status === 403
              ? ' (the lab does not accept the control plane token).'
              : '.'),
        );
      }
      return await response.json();
    } catch (error) {
      if (error instanceof HublessError) throw error;
      throw new LabUnreachableError(`The lab answered ${path} with something that is not JSON.`, {
        cause: error,
      });
    } finally {
      await response.body?.cancel().catch(() => undefined);
    }
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
