import { callerFunction } from './transport.ts';

/**
 * CloudWatch Logs for the simulated Lambdas: what a function writes (its JSON log lines
 * on console, its EMF metric lines on stdout) is kept here per function instead of
 * printed. A class makes tens of thousands of lines, and writing them to the test
 * runner's console cost the one-threaded simulator more time than the handlers did.
 * Error lines are kept apart, so a failing run can show them. Output of anything that
 * is not a Lambda invocation (the test itself) is printed as before.
 */
export interface LambdaLogs {
  /** Lines per function (the last `keep` of each). */
  readonly lines: Map<string, string[]>;
  /** Every line written at error level, with its function. */
  readonly errors: string[];
  /** Lines written per function, all of them. */
  readonly counts: Map<string, number>;
  restore(): void;
}

const KEEP = 500;

export function captureLambdaLogs(keep = KEEP): LambdaLogs {
  const lines = new Map<string, string[]>();
  const errors: string[] = [];
  const counts = new Map<string, number>();
  const record = (fn: string, text: string, error: boolean) => {
    counts.set(fn, (counts.get(fn) ?? 0) + 1);
    const kept = lines.get(fn) ?? [];
    lines.set(fn, kept);
    kept.push(text);
    if (kept.length > keep) kept.splice(0, kept.length - keep);
    if (error) errors.push(`${fn}: ${text}`);
  };
  const restores: Array<() => void> = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) => {
      const fn = callerFunction.getStore()?.fn;
      if (!fn) return original.apply(console, args);
      record(fn, args.map(String).join(' '), method === 'error');
    };
    restores.push(() => {
      console[method] = original;
    });
  }
  const write = process.stdout.write;
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
    const fn = callerFunction.getStore()?.fn;
    if (!fn) return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    record(fn, String(chunk).trimEnd(), false);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  } as typeof process.stdout.write;
  restores.push(() => {
    process.stdout.write = write;
  });
  return {
    lines,
    errors,
    counts,
    restore: () => {
      for (const restore of restores.reverse()) restore();
    },
  };
}
