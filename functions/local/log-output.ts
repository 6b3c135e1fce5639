import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogLevel } from '../core/log.ts';

/**
 * Where local mode's log lines go. Every JSON line is appended to a file (by default
 * <data dir>/logs/hubless.log, readable by its owner only), so the structured record is
 * always there to search. The terminal gets what a person can read: one short line per
 * entry (`10:15:02 info  session ready user=ada durationSeconds=41`). When stdout is
 * not a terminal (systemd, a pipe, a container), it gets the JSON lines themselves,
 * which log collectors parse.
 */
export interface LocalLogOutput {
  /** For JsonLogger's `write`: one JSON line and its level. */
  write(line: string, level: LogLevel): void;
  /** For lines that go to the file only (the embedded-metric-format lines, noise on a terminal). */
  fileOnly(line: string): void;
  close(): Promise<void>;
}

export interface LocalLogOutputOptions {
  file: string;
  /** Whether the terminal is a TTY; default process.stdout.isTTY. */
  tty?: boolean;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
}

export function openLocalLogOutput(options: LocalLogOutputOptions): LocalLogOutput {
  mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
  const file = createWriteStream(options.file, { flags: 'a', mode: 0o600 });
  // A full disk or a removed directory must not take the service down: the terminal still gets the line.
  file.on('error', () => undefined);
  const tty = options.tty ?? Boolean(process.stdout.isTTY);
  const stdout = options.stdout ?? ((text: string) => process.stdout.write(text));
  const stderr = options.stderr ?? ((text: string) => process.stderr.write(text));
  return {
    write(line, level) {
      file.write(`${line}\n`);
      const shown = tty ? humanLine(line) : line;
      (level === 'error' || level === 'warn' ? stderr : stdout)(`${shown}\n`);
    },
    fileOnly(line) {
      file.write(`${line}\n`);
    },
    close: () => new Promise((done) => file.end(done)),
  };
}

/** A JSON log line as a person reads it: local time of day, level, message, then key=value fields. */
export function humanLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, message, ...fields } = entry;
  const at = typeof time === 'string' ? new Date(time) : new Date();
  const clock = Number.isNaN(at.getTime()) ? '--:--:--' : at.toTimeString().slice(0, 8);
  const rest = Object.entries(fields)
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return [clock, String(level ?? '').padEnd(5), String(message ?? ''), ...rest].join(' ');
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}
