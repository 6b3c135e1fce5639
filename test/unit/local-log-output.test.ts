import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonLogger } from '../../functions/adapters/log/json-logger.ts';
import { humanLine, openLocalLogOutput } from '../../functions/local/log-output.ts';

describe('local mode log output', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(tty: boolean) {
    dir = await mkdtemp(join(tmpdir(), 'hubless-log-'));
    const file = join(dir, 'logs', 'hubless.log');
    const out: string[] = [];
    const err: string[] = [];
    const output = openLocalLogOutput({ file, tty, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
    const logger = new JsonLogger({ level: 'info', write: output.write });
    return { file, out, err, output, log: logger.log };
  }

  it('shows a person at a terminal readable lines, and keeps JSON lines in the log file', async () => {
    const { file, out, err, output, log } = await open(true);
    log('info', 'session ready', { user: 'ada', durationSeconds: 41 });
    log('error', 'culler run failed', { error: 'probe timed out' });
    log('debug', 'below the level');
    output.fileOnly('{"_aws":{},"SweepChecked":3}');
    await output.close();

    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d info {2}session ready user=ada durationSeconds=41\n$/);
    expect(err[0]).toMatch(/ error culler run failed error="probe timed out"\n$/);

    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      level: 'info',
      message: 'session ready',
      user: 'ada',
    });
    expect(JSON.parse(lines[2] as string)).toMatchObject({ SweepChecked: 3 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('prints the JSON lines themselves when stdout is not a terminal (service managers, pipes)', async () => {
    const { out, output, log } = await open(false);
    log('info', 'session ready', { user: 'ada' });
    await output.close();
    expect(JSON.parse(out[0] as string)).toMatchObject({
      level: 'info',
      message: 'session ready',
      user: 'ada',
    });
  });

  it('leaves a line that is not JSON as it is', () => {
    expect(humanLine('not json')).toBe('not json');
  });
});
