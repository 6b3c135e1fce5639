/**
 * Service models: would AWS accept this request? Every command input is checked against
 * AWS's published models for its API, not against our own beliefs:
 *
 * - structure, required members, member types and unknown members: the aws-sdk v2
 *   package's models (`aws-sdk/apis/<service>-<version>.min.json`) with its own
 *   `ParamValidator` (aws-sdk is pinned in devDependencies; v2.1693, models of 2024);
 * - enums, string lengths, list and map sizes, number ranges and patterns: the full
 *   models the SDK's min files strip, from botocore's `service-2.json` (Debian package
 *   `python3-botocore`, installed by .ci/run; models of December 2022, so a member added
 *   since then gets only the first layer of checks, and a newer enum value is taken from
 *   the SDK v3 client's own enum when it lists it).
 *
 * API
 * ```ts
 * import { validateInput, modelsFor } from '../support/aws-models/index.ts';
 * const problems = validateInput('elasticloadbalancingv2', 'CreateTargetGroup', input);
 * // [] when AWS would accept it; else messages such as
 * // "CreateTargetGroup.HealthCheckIntervalSeconds: 3 is below the minimum 5"
 * ```
 * `service` is the aws-sdk v2 model name: ecs, elasticfilesystem, elasticloadbalancingv2,
 * cognito-idp, eventbridge, lambda, dynamodb (any other v2 model works too when botocore has it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Where Debian's python3-botocore keeps its models. */
export const BOTOCORE_DATA = '/usr/lib/python3/dist-packages/botocore/data';

/** aws-sdk v2 model name -> botocore directory, where they differ. */
const BOTOCORE_NAMES: Record<string, string> = {
  elasticfilesystem: 'efs',
  elasticloadbalancingv2: 'elbv2',
  eventbridge: 'events',
};

// biome-ignore lint/suspicious/noExplicitAny: service models are untyped JSON.
type Shape = any;

interface ServiceModels {
  /** aws-sdk v2's Api (with Operation and Shape objects ParamValidator walks). */
  api: Shape;
  /** botocore's full model: { operations, shapes }. */
  full: { operations: Record<string, Shape>; shapes: Record<string, Shape> };
}

const cache = new Map<string, ServiceModels>();

// biome-ignore lint/suspicious/noExplicitAny: aws-sdk v2 internals have no types for these.
let sdk: { Api: any; ParamValidator: any } | undefined;

function awsSdkV2() {
  if (!sdk) {
    require('aws-sdk/lib/maintenance_mode_message').suppress = true;
    const AWS = require('aws-sdk/lib/core');
    sdk = { Api: require('aws-sdk/lib/model/api'), ParamValidator: AWS.ParamValidator };
  }
  return sdk;
}

/** Both models of one service, loaded once. Throws with the fix when one is missing. */
export function modelsFor(service: string): ServiceModels {
  const cached = cache.get(service);
  if (cached) return cached;
  const apis = path.dirname(require.resolve('aws-sdk/apis/metadata.json'));
  const file = readdirSync(apis)
    .filter((name) => name.startsWith(`${service}-`) && name.endsWith('.min.json'))
    .filter((name) => /^\d{4}-\d{2}-\d{2}\.min\.json$/.test(name.slice(service.length + 1)))
    .sort()
    .pop();
  if (!file) throw new Error(`aws-sdk v2 has no model for "${service}" (looked in ${apis})`);
  const version = file.slice(service.length + 1, -'.min.json'.length);
  const { Api } = awsSdkV2();
  const api = new Api(JSON.parse(readFileSync(path.join(apis, file), 'utf8')));
  const fullFile = path.join(BOTOCORE_DATA, BOTOCORE_NAMES[service] ?? service, version, 'service-2.json');
  if (!existsSync(fullFile)) {
    throw new Error(
      `The full ${service} ${version} model is missing (${fullFile}). Install Debian's python3-botocore ` +
        '(sudo apt-get install python3-botocore), which carries the enums, lengths, ranges and patterns.',
    );
  }
  const models: ServiceModels = { api, full: JSON.parse(readFileSync(fullFile, 'utf8')) };
  cache.set(service, models);
  return models;
}

/** Problems AWS would refuse this input for; empty when it would accept it. */
export function validateInput(service: string, operation: string, input: unknown): string[] {
  const models = modelsFor(service);
  const v2Name = operation.charAt(0).toLowerCase() + operation.slice(1);
  const v2Operation = models.api.operations[v2Name];
  if (!v2Operation) return [`${service} has no operation ${operation}`];
  const problems: string[] = [];
  const { ParamValidator } = awsSdkV2();
  try {
    new ParamValidator({ min: true, max: true, pattern: true, enum: true }).validate(
      v2Operation.input,
      input,
      operation,
    );
  } catch (error) {
    const errors = (error as { errors?: Error[] }).errors ?? [error as Error];
    problems.push(...errors.map((e) => e.message));
  }
  const full = models.full.operations[operation];
  if (full?.input) {
    new ConstraintWalker(models.full.shapes, enumsOfV3Client(service), problems).walk(
      full.input.shape,
      input,
      operation,
    );
  }
  return [...new Set(problems)];
}

/** Enums the SDK v3 client exports (`LaunchType = { EC2: 'EC2', … }`), by shape name: newer than botocore's. */
function enumsOfV3Client(service: string): Record<string, string[]> {
  const packages: Record<string, string> = {
    ecs: '@aws-sdk/client-ecs',
    elasticfilesystem: '@aws-sdk/client-efs',
    elasticloadbalancingv2: '@aws-sdk/client-elastic-load-balancing-v2',
    'cognito-idp': '@aws-sdk/client-cognito-identity-provider',
    eventbridge: '@aws-sdk/client-eventbridge',
    lambda: '@aws-sdk/client-lambda',
    dynamodb: '@aws-sdk/client-dynamodb',
    secretsmanager: '@aws-sdk/client-secrets-manager',
  };
  const name = packages[service];
  if (!name) return {};
  const client = require(name) as Record<string, unknown>;
  const enums: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(client)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
    const values = Object.values(value as Record<string, unknown>);
    if (values.length > 0 && values.every((v) => typeof v === 'string')) enums[key] = values as string[];
  }
  return enums;
}

class ConstraintWalker {
  readonly #shapes: Record<string, Shape>;
  readonly #newerEnums: Record<string, string[]>;
  readonly #problems: string[];

  constructor(shapes: Record<string, Shape>, newerEnums: Record<string, string[]>, problems: string[]) {
    this.#shapes = shapes;
    this.#newerEnums = newerEnums;
    this.#problems = problems;
  }

  walk(shapeName: string, value: unknown, where: string): void {
    if (value === undefined || value === null) return;
    const shape = this.#shapes[shapeName];
    if (!shape) return;
    switch (shape.type) {
      case 'structure': {
        if (typeof value !== 'object') return;
        const record = value as Record<string, unknown>;
        for (const required of shape.required ?? []) {
          if (record[required] === undefined || record[required] === null)
            this.#problems.push(`${where}: missing required member ${required}`);
        }
        for (const [member, memberValue] of Object.entries(record)) {
          const memberShape = shape.members?.[member];
          if (memberShape) this.walk(memberShape.shape, memberValue, `${where}.${member}`);
        }
        return;
      }
      case 'list':
        if (!Array.isArray(value)) return;
        this.#range(shape, value.length, where, 'list length');
        value.forEach((item, index) => {
          this.walk(shape.member.shape, item, `${where}[${index}]`);
        });
        return;
      case 'map': {
        if (typeof value !== 'object') return;
        const entries = Object.entries(value as Record<string, unknown>);
        this.#range(shape, entries.length, where, 'map size');
        for (const [key, entry] of entries) {
          this.walk(shape.key.shape, key, `${where} key`);
          this.walk(shape.value.shape, entry, `${where}.${key}`);
        }
        return;
      }
      case 'string':
        if (typeof value !== 'string') return;
        if (shape.enum) {
          const allowed = new Set([...shape.enum, ...(this.#newerEnums[shapeName] ?? [])]);
          if (!allowed.has(value))
            this.#problems.push(`${where}: "${value}" is not one of ${[...allowed].join(', ')}`);
        }
        this.#range(shape, [...value].length, where, 'length');
        if (shape.pattern && !matches(shape.pattern, value))
          this.#problems.push(`${where}: "${value}" does not match the pattern ${shape.pattern}`);
        return;
      case 'integer':
      case 'long':
      case 'float':
      case 'double':
        if (typeof value !== 'number') return;
        this.#range(shape, value, where, 'value');
        return;
      default:
        return;
    }
  }

  #range(shape: Shape, actual: number, where: string, what: string): void {
    if (shape.min !== undefined && actual < shape.min)
      this.#problems.push(`${where}: ${what} ${actual} is below the minimum ${shape.min}`);
    if (shape.max !== undefined && actual > shape.max)
      this.#problems.push(`${where}: ${what} ${actual} is above the maximum ${shape.max}`);
  }
}

const compiled = new Map<string, RegExp | null>();

/** Smithy patterns are ECMA 262 and not implicitly anchored; \p{…} classes need the u flag. */
function matches(pattern: string, value: string): boolean {
  if (!compiled.has(pattern)) {
    let regex: RegExp | null = null;
    for (const flags of ['u', '']) {
      try {
        regex = new RegExp(pattern, flags);
        break;
      } catch {
        regex = null;
      }
    }
    compiled.set(pattern, regex);
  }
  const regex = compiled.get(pattern);
  // A pattern JavaScript cannot compile is not evidence against the value.
  return regex ? regex.test(value) : true;
}
