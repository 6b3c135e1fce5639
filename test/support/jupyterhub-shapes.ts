import type { JsonSchema } from '../fakes/api-openapi-check.ts';

/**
 * Response shapes of JupyterHub's REST API, for checking what /hub/api answers. Copied
 * from JupyterHub's REST API document (jupyterhub/jupyterhub,
 * docs/source/_static/rest-api.yml: components.schemas.User and .Server, and the
 * {status, message} error body of its handlers). Where JupyterHub itself answers null
 * (server, pending, last_activity), null is allowed.
 */
export const JUPYTERHUB_SERVER: JsonSchema = {
  type: 'object',
  required: ['name', 'ready', 'stopped', 'pending', 'url', 'progress_url', 'started', 'last_activity'],
  properties: {
    name: { type: 'string' },
    ready: { type: 'boolean' },
    stopped: { type: 'boolean' },
    pending: { type: ['string', 'null'], enum: ['spawn', 'stop', null] },
    url: { type: 'string' },
    progress_url: { type: 'string' },
    full_url: { type: ['string', 'null'] },
    full_progress_url: { type: ['string', 'null'] },
    started: { type: 'string', format: 'date-time' },
    last_activity: { type: ['string', 'null'], format: 'date-time' },
    state: { type: 'object' },
    user_options: { type: 'object' },
  },
  additionalProperties: false,
};

export const JUPYTERHUB_USER: JsonSchema = {
  type: 'object',
  required: ['name', 'kind', 'admin', 'groups', 'server', 'pending', 'last_activity'],
  properties: {
    name: { type: 'string' },
    kind: { type: 'string', enum: ['user'] },
    admin: { type: 'boolean' },
    roles: { type: 'array', items: { type: 'string' } },
    groups: { type: 'array', items: { type: 'string' } },
    server: { type: ['string', 'null'] },
    pending: { type: ['string', 'null'], enum: ['spawn', 'stop', null] },
    created: { type: 'string', format: 'date-time' },
    last_activity: { type: ['string', 'null'], format: 'date-time' },
    servers: { type: 'object', additionalProperties: JUPYTERHUB_SERVER },
  },
  additionalProperties: false,
};

/** GET /users with "Accept: application/jupyterhub-pagination+json" (JupyterHub 2.0+). */
export const JUPYTERHUB_USER_PAGE: JsonSchema = {
  type: 'object',
  required: ['items', '_pagination'],
  properties: {
    items: { type: 'array', items: JUPYTERHUB_USER },
    _pagination: {
      type: 'object',
      required: ['offset', 'limit', 'total', 'next'],
      properties: {
        offset: { type: 'integer' },
        limit: { type: 'integer' },
        total: { type: 'integer' },
        next: {
          anyOf: [
            { type: 'null' },
            {
              type: 'object',
              required: ['offset', 'limit', 'url'],
              properties: {
                offset: { type: 'integer' },
                limit: { type: 'integer' },
                url: { type: 'string' },
              },
            },
          ],
        },
      },
    },
  },
  additionalProperties: false,
};

export const JUPYTERHUB_ERROR: JsonSchema = {
  type: 'object',
  required: ['status', 'message'],
  properties: { status: { type: 'number' }, message: { type: 'string' } },
};
