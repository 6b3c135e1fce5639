import { LOG_LEVELS, type LogLevel } from '../../core/log.ts';

/**
 * Structured log lines: one JSON object per line, `{level, message, time, ...context,
 * ...fields}`, on stdout (errors on stderr), which CloudWatch Logs stores as it comes.
 * Lines below the configured level (HUBLESS_LOG_LEVEL) are dropped.
 *
 * The context holds what every line of one invocation shares: the Lambda entry points
 * set the request id, the cold-start flag and the correlation id before the handler
 * runs and clear them after (a Lambda instance serves one invocation at a time).
 *
 * Hand-written rather than Powertools' Logger: the same JSON lines for about 1 KiB of
 * bundle instead of about 35 KiB, and a cold start that must stay short.
 */
export class JsonLogger {
  readonly #threshold: number;
  readonly #write: (line: string, level: LogLevel) => void;
  #context: Record<string, unknown> = {};

  constructor(options: { level?: LogLevel; write?: (line: string, level: LogLevel) => void } = {}) {
    this.#threshold = LOG_LEVELS.indexOf(options.level ?? 'info');
    this.#write = options.write ?? writeConsole;
  }

  /** The Log function core and handlers receive (CoreDeps.log). */
  readonly log = (level: LogLevel, message: string, fields: Record<string, unknown> = {}): void => {
    if (LOG_LEVELS.indexOf(level) < this.#threshold) return;
    const line = { level, message, time: new Date().toISOString(), ...this.#context, ...fields };
    this.#write(JSON.stringify(line), level);
  };

  /** Fields every following line carries, until clearContext. */
  setContext(context: Record<string, unknown>): void {
    this.#context = { ...context };
  }

  clearContext(): void {
    this.#context = {};
  }
}

function writeConsole(line: string, level: LogLevel): void {
  if (level === 'error') console.error(line);
  else console.log(line);
}
