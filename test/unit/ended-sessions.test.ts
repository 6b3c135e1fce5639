import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EndedSessions, endedSessionsPath } from '../../functions/local/gateway/ended-sessions.ts';

/** The gateway's list of ended sign-ins, as a lab reads it (hubless_lab/identity.py EndedSessions). */
const scratch = mkdtempSync(path.join(tmpdir(), 'hubless-ended-unit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const read = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

describe('ended sessions', () => {
  it('starts empty, since the gateway’s start, readable by labs and writable only by hubless', async () => {
    const homes = path.join(scratch, 'homes-a');
    const file = endedSessionsPath(homes);
    await new EndedSessions(file, () => 1_700_000_000_900).start();
    expect(read(file)).toEqual({ version: 1, since: 1_700_000_000, ended: {} });
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o755);
    // A homes dir made for it is passable but not listable, as DirHomes makes it.
    expect(statSync(homes).mode & 0o777).toBe(0o711);
  });

  it('lists an ended session until its last header has expired (plus leeway), then drops it', async () => {
    let now = 1_700_000_000_000;
    const file = endedSessionsPath(path.join(scratch, 'homes-b'));
    const ended = new EndedSessions(file, () => now);
    await ended.start();
    await ended.end('sid-a', now + 120_000);
    expect(read(file).ended).toEqual({ 'sid-a': 1_700_000_120 });
    now += 180_000; // sid-a's header expired 60 s ago: still listed (lab leeway)
    await ended.end('sid-b', now + 10_500);
    expect(Object.keys(read(file).ended)).toEqual(['sid-a', 'sid-b']);
    now += 1_000;
    await ended.end('sid-c', now);
    expect(Object.keys(read(file).ended)).toEqual(['sid-b', 'sid-c']);
    expect(read(file).ended['sid-b']).toBe(1_700_000_191);
  });
});
