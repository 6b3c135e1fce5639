import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { failure, NOT_YOURS, type Refusal, refuse } from '../../functions/local/gateway/refusals.ts';

/** What the gateway wrote for one refusal. */
function answer(url: string, headers: Record<string, string>, refusal: Refusal) {
  const written: { status?: number; headers?: Record<string, unknown>; body?: string } = {};
  const res = {
    headersSent: false,
    writeHead(status: number, head: Record<string, unknown>) {
      written.status = status;
      written.headers = head;
    },
    end(body: string) {
      written.body = body;
    },
  };
  refuse({ url, headers } as unknown as IncomingMessage, res as unknown as ServerResponse, refusal);
  return written;
}

const TOO_LARGE: Refusal = {
  status: 413,
  code: 'payload_too_large',
  title: 'Too large',
  message: 'Too big.',
};

describe('the gateway’s one error responder', () => {
  it('answers /api/v1 in hubless’s error shape and /hub/api in JupyterHub’s', () => {
    expect(JSON.parse(answer('/api/v1/users/ada', {}, TOO_LARGE).body ?? '')).toEqual({
      error: { code: 'payload_too_large', message: 'Too big.' },
    });
    expect(JSON.parse(answer('/hub/api/users', {}, TOO_LARGE).body ?? '')).toEqual({
      status: 413,
      message: 'Too big.',
    });
  });

  it('shows a page to a browser loading one', () => {
    const page = answer('/user/bob/lab', { 'sec-fetch-dest': 'document' }, NOT_YOURS);
    expect(page.status).toBe(403);
    expect(page.headers?.['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('This server belongs to another user');
  });

  it('answers a script’s fetch with JSON, in the API’s shape', () => {
    const fetched = answer('/progress', { 'sec-fetch-dest': 'empty' }, NOT_YOURS);
    expect(fetched.headers?.['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(fetched.body ?? '')).toEqual({
      error: { code: 'forbidden', message: 'This server belongs to another user.' },
    });
  });
});

describe('failure', () => {
  it('answers 500 without details and logs what failed as a structured error line', () => {
    const lines: unknown[][] = [];
    const refusal = failure('GET /hub/home', new Error('DynamoDB Local is gone'), (...line) =>
      lines.push(line),
    );
    expect(refusal.status).toBe(500);
    expect(JSON.stringify(refusal)).not.toContain('DynamoDB Local is gone');
    expect(lines).toEqual([['error', 'gateway: GET /hub/home failed', { error: 'DynamoDB Local is gone' }]]);
  });
});
