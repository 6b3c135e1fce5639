import { readFile } from 'node:fs/promises';

/** A data dir file that cannot be read as what it should be: names the file and the fix. */
export class DataFileError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, fix: string) {
    super(`${file} ${problem}. ${fix}`);
    this.name = 'DataFileError';
    this.file = file;
  }
}

/**
 * JSON.parse for the files local mode keeps in its data dir (users, keys, clients, tokens).
 * A bare SyntaxError ("Unexpected end of JSON input") names no file; a file cut short by a
 * full disk or a crash mid-edit must say which one it is and what to do about it.
 */
export function parseDataFile(file: string, text: string, fix: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = (error as Error).message;
    const cut = text.trim() === '' || /end of JSON input|Unterminated|Expected/.test(detail);
    throw new DataFileError(
      file,
      `is not valid JSON (${detail})${cut ? '; it looks cut short, as a crash or a full disk during a write leaves it' : ''}`,
      fix,
    );
  }
}

/**
 * Reads a data dir file that holds a JSON list (clients, service tokens): a missing file is
 * an empty list; one that is not a list names itself, `what` it should hold, and the fix.
 */
export async function readDataList<T>(file: string, what: string, fix: string): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const list = parseDataFile(file, text, fix);
  if (!Array.isArray(list)) throw new DataFileError(file, `is not a list of ${what}`, fix);
  return list as T[];
}
