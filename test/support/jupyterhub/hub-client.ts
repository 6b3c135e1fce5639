import { expect } from 'vitest';
import { type HubAnswerLike, hubAnswerProblems } from './rest-api.ts';

/**
 * A JupyterHub API client for compatibility tests, over any transport (the API handler
 * in memory, or HTTP to local mode). Every answer is checked against JupyterHub's
 * rest-api.yml before the test sees it, so no test can read an answer JupyterHub's own
 * clients would not understand. Paths may be absolute URLs (pagination's next.url).
 */
export interface HubAnswer extends HubAnswerLike {
  headers: Record<string, string>;
  json: any;
}

export type HubTransport = (
  method: string,
  path: string,
  init: { headers: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: Record<string, string>; body: string }>;

export interface HubClient {
  call(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<HubAnswer>;
  /** jupyterhub-idle-culler's fetch_paginated: follows _pagination.next.url as given until it is null. */
  paginate(path: string): Promise<{ items: any[]; pages: string[] }>;
}

export function hubClient(transport: HubTransport, token: () => string): HubClient {
  const call: HubClient['call'] = async (method, path, options = {}) => {
    const relative = path.replace(/^https?:\/\/[^/]+/, '');
    const full = relative.startsWith('/hub/api') ? relative : `/hub/api${relative}`;
    const headers: Record<string, string> = { authorization: `token ${token()}`, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    const answer = await transport(method, full, { headers, body });
    let json: unknown;
    try {
      json = answer.body ? JSON.parse(answer.body) : undefined;
    } catch {
      json = undefined;
    }
    const result: HubAnswer = { status: answer.status, headers: answer.headers, body: answer.body, json };
    expect(
      hubAnswerProblems(method, full, result),
      `${method} ${full} -> ${answer.status} ${answer.body}`,
    ).toEqual([]);
    expect(answer.headers['x-jupyterhub-version'], `${method} ${full} carries X-JupyterHub-Version`).toMatch(
      /^\d+\.\d+\.\d+$/,
    );
    return result;
  };
  return {
    call,
    async paginate(path) {
      const items: any[] = [];
      const pages: string[] = [];
      let url: string | null = path;
      while (url) {
        pages.push(url);
        const page = await call('GET', url, {
          headers: { accept: 'application/jupyterhub-pagination+json' },
        });
        expect(page.status).toBe(200);
        items.push(...page.json.items);
        url = page.json._pagination.next?.url ?? null;
        // The culler's HTTP client accepts absolute URLs only.
        if (url) expect(url).toMatch(/^https?:\/\//);
      }
      return { items, pages };
    },
  };
}

/** Parses a text/event-stream body into its `data:` events. */
export function events(body: string): any[] {
  return body
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => JSON.parse(line.slice('data:'.length)));
}
