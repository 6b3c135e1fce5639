import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

/**
 * Validates /hub/api answers against JupyterHub's own REST API description
 * (rest-api.yml beside this file: JupyterHub 5.5.1, BSD-3-Clause). Every answer a
 * compatibility test receives goes through `hubAnswerProblems`, which finds the
 * operation by method and path, and checks the body against the schema the description
 * gives for that status.
 *
 * Where the description and JupyterHub's handlers disagree, the handlers win, and each
 * such place is listed in NULLABLE with the line of JupyterHub that answers None there:
 * the description types these fields as plain strings, JupyterHub sends null.
 */
const FILE = new URL('./rest-api.yml', import.meta.url);
export const REST_API = parse(readFileSync(FILE, 'utf8')) as {
  info: { version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, any>> };
};

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Record<string, any> }> }>;
}

/** [schema, property]: JupyterHub's handlers answer None here (apihandlers/base.py). */
export const NULLABLE: ReadonlyArray<[string, string, string]> = [
  ['User', 'server', "user_model: 'server': user.url if running else None"],
  ['User', 'pending', "user_model: 'pending': None unless the default server has a pending action"],
  ['User', 'last_activity', 'user_model: isoformat(None) for a user never seen'],
  ['Server', 'pending', 'server_model: spawner.pending is None when nothing is pending'],
  ['Server', 'last_activity', 'server_model: isoformat(None) before any activity'],
  ['Server', 'started', 'server_model: isoformat(None) for a stopped server'],
];

function withNullable(schemas: Record<string, Record<string, any>>) {
  const copy = structuredClone(schemas);
  for (const [schema, property] of NULLABLE) {
    const field = copy[schema]!.properties[property];
    field.type = [field.type, 'null'];
    if (field.enum) field.enum = [...field.enum, null];
  }
  return copy;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
// RFC 3339 date-time, as JupyterHub's isoformat writes it (with Z or an offset).
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
ajv.addSchema({ $id: 'hub', components: { schemas: withNullable(REST_API.components.schemas) } });

const compiled = new Map<string, ValidateFunction>();
function validator(schema: Record<string, any>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    // $refs in the description point at "#/components/…": resolve them in the registered document.
    const rewritten = JSON.parse(key.replaceAll('"#/components/', '"hub#/components/'));
    validate = ajv.compile(rewritten);
    compiled.set(key, validate);
  }
  return validate;
}

/** The problems of `value` against a named schema of the description ([] when valid). */
export function schemaProblems(name: string, value: unknown): string[] {
  return problemsOf(validator({ $ref: `#/components/schemas/${name}` }), value);
}

function problemsOf(validate: ValidateFunction, value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '$'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
  );
}

/** The description's path template that a concrete /hub/api path falls under. */
export function operationPath(path: string): string | undefined {
  const bare = path.replace(/^\/hub\/api/, '').replace(/\?.*$/, '') || '/';
  return Object.keys(REST_API.paths).find((template) => {
    const pattern = template.replace(/\{server_name\}/g, '[^/]*').replace(/\{\w+\}/g, '[^/]+');
    return new RegExp(`^${pattern}$`).test(bare);
  });
}

/** JupyterHub's error body (APIHandler.write_error). */
const ERROR_BODY = {
  type: 'object',
  required: ['status', 'message'],
  properties: { status: { type: 'integer' }, message: { type: 'string' } },
};

export interface HubAnswerLike {
  status: number;
  /** Parsed JSON body, or undefined when the body was empty or not JSON. */
  json: unknown;
  body: string;
}

/**
 * What is wrong with an answer to `method path`, judged by rest-api.yml: an error must be
 * JupyterHub's {status, message}; a documented JSON body must match its schema (a
 * paginated list its PaginatedList form, items checked against the list's item schema);
 * a response documented without content must have an empty body. A path the description
 * does not know is itself a problem.
 */
export function hubAnswerProblems(method: string, path: string, answer: HubAnswerLike): string[] {
  const template = operationPath(path);
  // The progress stream is described in JupyterHub's docs, not in rest-api.yml.
  if (/\/progress$/.test(path.replace(/\?.*$/, ''))) return [];
  if (!template) return [`${method} ${path}: not in JupyterHub ${REST_API.info.version}'s rest-api.yml`];
  const operation = REST_API.paths[template]![method.toLowerCase()];
  if (!operation) return [`${method} ${template}: JupyterHub has no such operation`];
  if (answer.status >= 400)
    return problemsOf(validator(ERROR_BODY), answer.json).map((p) => `error body: ${p}`);
  const response = operation.responses[String(answer.status)];
  if (!response)
    return [`${method} ${template} answered ${answer.status}, which JupyterHub does not document`];
  const schema = response.content?.['application/json']?.schema;
  if (!schema)
    return answer.body === '' ? [] : [`${method} ${template} ${answer.status} has a body: ${answer.body}`];
  const body = answer.json as Record<string, unknown> | undefined;
  if (
    body &&
    typeof body === 'object' &&
    !Array.isArray(body) &&
    '_pagination' in body &&
    schema.type === 'array'
  ) {
    return [
      ...problemsOf(validator({ $ref: '#/components/schemas/PaginatedList' }), body),
      ...problemsOf(validator(schema), body.items),
    ];
  }
  return problemsOf(validator(schema), answer.json);
}
