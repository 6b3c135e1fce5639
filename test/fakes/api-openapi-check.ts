/**
 * A small JSON Schema (2020-12) checker for test assertions: enough of the vocabulary
 * that zod's z.toJSONSchema emits and JupyterHub's rest-api.yml uses (type, properties,
 * required, additionalProperties, items, enum, const, anyOf/oneOf/allOf, string and
 * number bounds, date/date-time formats). Returns the problems; [] means valid.
 */
export type JsonSchema = Record<string, any>;

export function checkSchema(schema: JsonSchema, value: unknown, at = '$'): string[] {
  const problems: string[] = [];
  const type = schema.type as string | string[] | undefined;
  if (type !== undefined) {
    const types = Array.isArray(type) ? type : [type];
    if (!types.some((t) => hasType(t, value)))
      return [`${at}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`];
  }
  if (schema.const !== undefined && value !== schema.const)
    problems.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (schema.anyOf && !schema.anyOf.some((s: JsonSchema) => checkSchema(s, value, at).length === 0))
    problems.push(`${at}: matches none of anyOf`);
  if (
    schema.oneOf &&
    schema.oneOf.filter((s: JsonSchema) => checkSchema(s, value, at).length === 0).length !== 1
  )
    problems.push(`${at}: must match exactly one of oneOf`);
  for (const part of schema.allOf ?? []) problems.push(...checkSchema(part, value, at));
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      problems.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value))
      problems.push(`${at}: does not match ${schema.pattern}`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value)))
      problems.push(`${at}: not a date-time`);
    if (schema.format === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) problems.push(`${at}: not a date`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items) {
    for (const [i, item] of value.entries()) problems.push(...checkSchema(schema.items, item, `${at}[${i}]`));
  }
  if (isObject(value)) {
    for (const name of schema.required ?? []) if (!(name in value)) problems.push(`${at}: missing "${name}"`);
    const properties: Record<string, JsonSchema> = schema.properties ?? {};
    for (const [name, item] of Object.entries(value)) {
      if (properties[name]) problems.push(...checkSchema(properties[name], item, `${at}.${name}`));
      else if (schema.additionalProperties === false) problems.push(`${at}: unexpected "${name}"`);
      else if (isObject(schema.additionalProperties))
        problems.push(...checkSchema(schema.additionalProperties, item, `${at}.${name}`));
    }
  }
  return problems;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isObject(value);
    default:
      return typeof value === type;
  }
}

/** The response schema our OpenAPI document declares for (method, path template, status). */
export function responseSchema(
  document: any,
  method: string,
  template: string,
  status: number,
): JsonSchema | undefined {
  const response = document.paths?.[template]?.[method.toLowerCase()]?.responses?.[String(status)];
  if (!response) throw new Error(`The OpenAPI document has no ${status} response for ${method} ${template}.`);
  return response.content?.['application/json']?.schema;
}
