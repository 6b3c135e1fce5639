/**
 * How core and handlers log: a level, a message and structured fields. The function is
 * injected (CoreDeps.log); which lines reach the output, and what context they carry
 * (the Lambda request id, for one), is the logger's business (adapters/log).
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type Log = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;
