import { randomBytes, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { decodeAlbPool } from '../../functions/adapters/aws/alb-pool.ts';
import { ALB_AUTH, albKeysUrl, cognitoIssuer } from '../../functions/adapters/aws/names.ts';
import type { HttpApiEvent, HttpApiResult } from '../../functions/handlers/http-types.ts';
import { LAUNCH_MAX_RECEIVES, LAUNCH_VISIBILITY_TIMEOUT } from '../../stacks/Compute.ts';
import { PORTAL_RULE_PRIORITY } from '../../stacks/control-plane.ts';
import { LAUNCHER_BATCH_SIZE, LAUNCHER_MAX_CONCURRENCY } from '../../stacks/Schedules.ts';
import { ALL_SCOPES } from '../fakes/api-harness.ts';
import { type IamRequest, IamRequestMapper } from '../support/aws-iam/index.ts';
import { Browser } from './browser.ts';
import type { SimDeployment } from './deploy.ts';
import { SimCognito, SimEfs } from './directory.ts';
import { describe, type EcsTiming, SimEcs, type SimTask } from './ecs.ts';
import { SimElb } from './elb.ts';
import { awsError, throttled } from './errors.ts';
import { FakeLab, LabVerifier } from './fake-lab.ts';
import { createAlbSigner, DataPlane } from './front.ts';
import { type Lambdas, loadLambdas } from './lambdas.ts';
import { captureLambdaLogs, type LambdaLogs } from './logs.ts';
import { SimSqs } from './sqs.ts';
import { installTransport, PASS_THROUGH, type SimCall } from './transport.ts';

/**
 * A simulated AWS account running hubless as deployed: the real Lambda entry points
 * and wiring on top of stateful ELBv2, ECS, EFS, Cognito, EventBridge and SQS stand-ins
 * (DynamoDB is DynamoDB Local), every call checked against the synthesized role policy
 * of the function that makes it, tasks that are small fake labs, and an HTTP front per
 * load balancer that a student's browser (browser.ts) signs in through.
 */

export interface SimOptions {
  deployment: SimDeployment;
  /** Scales ELB health-check intervals (5 s in the template). 0.1: a check every 0.5 s. */
  timeScale?: number;
  ecsTiming?: Partial<EcsTiming>;
  /** EventBridge's delivery delay of task state changes, ms (uniform in [min, max]). */
  eventDelayMs?: [number, number];
  /** Check every call against IAM (default true). */
  checkIam?: boolean;
  /** What a task runs (default: a FakeLab; real-labs.ts runs real Jupyter servers). */
  labs?: LabRuntime;
}

/** A task's server as the account sees it: where it listens, whose it is, its activity switch. */
export interface Lab {
  readonly port: number;
  readonly owner: string;
  active: boolean;
  /** The health check's status without HTTP, for a lab that can say it (FakeLab); else the check is a request. */
  healthCheck?(path: string): number;
  close(): void;
}

export interface LabRuntime {
  /**
   * Starts the server of `task` (its environment is the task definition's plus the
   * overrides); resolves when it listens. `keys` is the ALB's key server's content.
   */
  start(task: SimTask, keys: { kid: string; pem: string }): Promise<Lab>;
}

export interface Faults {
  /** Probability that a call to one of `throttleServices` is throttled. */
  throttle: number;
  throttleServices: Set<string>;
  /** Probability that a launch message is delivered once more after it was handled. */
  duplicateLaunch: number;
  /** Probability that a task state change event is never delivered, or delivered twice. */
  loseEvent: number;
  duplicateEvent: number;
  /** Extra delay (ms, uniform up to) of some events: later ones overtake them. */
  reorderEventMs: number;
}

export interface CallStats {
  calls: number;
  throttled: number;
  denied: number;
  byFunction: Record<string, number>;
}

export class SimAccount {
  readonly deployment: SimDeployment;
  readonly elb: SimElb;
  readonly ecs: SimEcs;
  readonly efs: SimEfs;
  readonly cognito: SimCognito;
  /** The launch queue and its event source, delivering to the launcher Lambda. */
  readonly sqs: SimSqs;
  readonly front: DataPlane;
  readonly lambdas: Lambdas;
  readonly labs = new Map<string, Lab>();
  readonly faults: Faults = {
    throttle: 0,
    throttleServices: new Set(),
    duplicateLaunch: 0,
    loseEvent: 0,
    duplicateEvent: 0,
    reorderEventMs: 0,
  };
  readonly calls = new Map<string, CallStats>();
  readonly denied: string[] = [];
  readonly events = { emitted: 0, delivered: 0, lost: 0, duplicated: 0, failed: 0, pending: 0 };
  readonly published: unknown[] = [];
  /** What the Lambdas wrote (CloudWatch Logs): kept, not printed. */
  readonly logs: LambdaLogs = captureLambdaLogs();
  /** Time spent evaluating IAM (the simulator's own cost, not AWS's). */
  iamMs = 0;
  /** Distinct request shapes the IAM simulator evaluated. */
  get iamShapes(): number {
    return this.#decisions.size;
  }
  /** Labs by task IP (what a target registration and the culler's probe address). */
  readonly byIp = new Map<string, Lab>();
  readonly #mapper: IamRequestMapper;
  readonly #checkIam: boolean;
  readonly #eventDelay: [number, number];
  readonly #verifiers = new Map<string, LabVerifier>();
  readonly #runtime: LabRuntime | undefined;
  readonly #secrets = new Map<string, string>();
  readonly #decisions = new Map<string, Promise<{ allowed: boolean; message: string }>>();
  /** Hex ids of the deployment itself (listeners, balancers): never masked in a request's shape. */
  readonly #fixedIds: Set<string>;
  #uninstall: () => void = () => {};
  #restoreFetch: () => void = () => {};
  readonly #keys: { kid: string; pem: string };

  private constructor(
    options: SimOptions,
    parts: {
      elb: SimElb;
      ecs: SimEcs;
      efs: SimEfs;
      cognito: SimCognito;
      front: DataPlane;
      lambdas: Lambdas;
      sqs: SimSqs;
      keys: { kid: string; pem: string };
    },
  ) {
    this.deployment = options.deployment;
    Object.assign(this, parts);
    this.elb = parts.elb;
    this.ecs = parts.ecs;
    this.efs = parts.efs;
    this.cognito = parts.cognito;
    this.front = parts.front;
    this.lambdas = parts.lambdas;
    this.sqs = parts.sqs;
    this.#keys = parts.keys;
    this.#mapper = new IamRequestMapper({
      account: options.deployment.account,
      region: options.deployment.region,
    });
    this.#checkIam = options.checkIam ?? true;
    this.#runtime = options.labs;
    this.#eventDelay = options.eventDelayMs ?? [20, 200];
    this.#fixedIds = new Set(
      Object.values(options.deployment.env)
        .join(' ')
        .match(/[0-9a-f]{8,}/g) ?? [],
    );
  }

  static async start(options: SimOptions): Promise<SimAccount> {
    const { env, region, account } = options.deployment;
    const timeScale = options.timeScale ?? 0.1;
    const domain = new URL(env.HUBLESS_PUBLIC_URL ?? '').hostname;
    const balancers = decodeAlbPool(options.deployment.listenerArns.join(','), domain);
    const issuer = cognitoIssuer(region, env.HUBLESS_USER_POOL_ID ?? '');
    const clientId = env.HUBLESS_USER_POOL_CLIENT_ID ?? '';
    const signer = await createAlbSigner({ issuer, clientId });
    const loginDomain = env.HUBLESS_USER_POOL_DOMAIN ?? '';
    const hostedUiHost = loginDomain.includes('.')
      ? loginDomain
      : `${loginDomain}.auth.${region}.amazoncognito.com`;
    // Forward references: the services call back into the account once it exists.
    let self: SimAccount | undefined;
    const elb = new SimElb({
      region,
      account,
      balancers,
      timeScale,
      rulesQuota: options.deployment.rulesQuota,
      probe: (ip, port, path) => (self ? self.health(ip, port, path) : Promise.resolve(0)),
      portal: {
        priority: PORTAL_RULE_PRIORITY,
        lambda: 'portal',
        cognito: {
          UserPoolClientId: clientId,
          SessionCookieName: ALB_AUTH.sessionCookie,
          Scope: ALB_AUTH.scopes.join(' '),
          SessionTimeout: ALB_AUTH.sessionTimeoutSeconds,
          OnUnauthenticatedRequest: 'authenticate',
        },
      },
    });
    const ecs = new SimEcs({
      region,
      account,
      clusterArn: env.HUBLESS_CLUSTER_ARN ?? '',
      timing: { provisionMs: 300, startMs: 1200, stopMs: 300, ...options.ecsTiming },
      emit: (task) => self?.onTaskChange(task),
      onRunning: async (task) => self?.startLab(task),
      onStopped: (task) => self?.stopLab(task),
    });
    const efs = new SimEfs(env.HUBLESS_FILE_SYSTEM_ID ?? '', 200);
    const cognito = new SimCognito(env.HUBLESS_USER_POOL_ID ?? '');
    const lambdas = await loadLambdas((fn) => options.deployment.iam.function(fn).timeoutSeconds);
    // The pre sign-up trigger exists where the stage configures federation (stacks/Identity.ts).
    if (options.deployment.iam.functions.has('federated-sign-up'))
      cognito.preSignUp = (event) => lambdas.federatedSignUp(event);
    // As deployed (stacks/Schedules.ts, stacks/Compute.ts); the visibility timeout on the sim's time scale.
    const sqs = new SimSqs({
      batchSize: LAUNCHER_BATCH_SIZE,
      maxConcurrency: LAUNCHER_MAX_CONCURRENCY,
      visibilityMs: LAUNCH_VISIBILITY_TIMEOUT.toMilliseconds() * timeScale,
      maxReceives: LAUNCH_MAX_RECEIVES,
      deliver: (event) => lambdas.launcher(event),
    });
    const front = new DataPlane({
      elb,
      cognito,
      signer,
      hostedUiHost,
      cookieName: ALB_AUTH.sessionCookie,
      portal: (event) => lambdas.portal(event),
      targetPort: (ip, port) => (port === 8888 ? self?.byIp.get(ip)?.port : undefined),
    });
    await front.start();
    self = new SimAccount(options, {
      elb,
      ecs,
      efs,
      cognito,
      front,
      lambdas,
      sqs,
      keys: { kid: signer.kid, pem: signer.pem },
    });
    self.#uninstall = installTransport({ answer: (call) => (self as SimAccount).#answer(call) });
    self.#restoreFetch = self.#interceptFetch();
    return self;
  }

  /** A browser for one student. */
  browser(): Browser {
    return new Browser((host) => this.front.resolve(host));
  }

  /** The portal's origin on pool host 0 (the main domain). */
  get portalUrl(): string {
    return `https://${this.elb.balancers[0]?.host}`;
  }

  /**
   * Calls the LMS API as API Gateway would after its JWT authorizer accepted an LMS
   * client's access token (the authorizer is AWS's; the handler checks again).
   */
  async api(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const clientId = (this.deployment.env.HUBLESS_API_CLIENT_IDS ?? '').split(',')[0] ?? '';
    const [rawPath = '', rawQueryString = ''] = path.split('?');
    const event: HttpApiEvent = {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      requestContext: {
        http: { method, path: rawPath },
        requestId: randomUUID(),
        domainName: new URL(this.deployment.env.HUBLESS_PUBLIC_URL ?? 'https://x').hostname,
        authorizer: { jwt: { claims: { client_id: clientId, scope: ALL_SCOPES, token_use: 'access' } } },
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      isBase64Encoded: false,
    };
    const result: HttpApiResult = await this.lambdas.api(event);
    return {
      status: result.statusCode,
      body: result.body ? (JSON.parse(result.body) as Record<string, unknown>) : {},
    };
  }

  /** Interrupts `count` running Fargate Spot tasks, as AWS reclaims capacity. */
  interruptSpot(count: number): number {
    let done = 0;
    for (const task of this.ecs.tasks.values()) {
      if (done >= count) break;
      if (task.capacityProvider !== 'FARGATE_SPOT' || task.lastStatus !== 'RUNNING') continue;
      this.ecs.stop(task, 'SpotInterruption', 'Your Spot Task was interrupted.');
      done += 1;
    }
    return done;
  }

  /** Until every queued launch and every scheduled task event has been handled (or `timeoutMs`). */
  async eventsSettled(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ((this.events.pending > 0 || this.sqs.pending > 0) && Date.now() < until) await sleep(50);
  }

  /** The lab of a user's live task, for flipping its activity switch. */
  labOf(user: string): Lab | undefined {
    return [...this.labs.values()].find((lab) => lab.owner === user);
  }

  /** What is left in the account: for the "no leaks" check after a class. */
  leftovers() {
    return {
      tasks: this.ecs.liveTasks().length,
      rules: this.elb.sessionRules().length,
      targetGroups: this.elb.targetGroups.size,
      accessPoints: this.efs.points.size,
      labs: this.labs.size,
    };
  }

  /** Task-seconds by capacity provider so far (stopped tasks to their stop, live ones to now). */
  taskSeconds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const task of this.ecs.tasks.values()) {
      if (!task.startedAt) continue;
      const end = task.stoppedAt ?? Date.now();
      out[task.capacityProvider] = (out[task.capacityProvider] ?? 0) + (end - task.startedAt) / 1000;
    }
    return out;
  }

  close(): void {
    this.logs.restore();
    this.#uninstall();
    this.#restoreFetch();
    this.elb.close();
    this.ecs.close();
    this.sqs.close();
    this.front.close();
    for (const lab of this.labs.values()) lab.close();
    this.labs.clear();
  }

  #count(call: SimCall, field: 'calls' | 'throttled' | 'denied'): void {
    const key = `${call.service}:${call.operation}`;
    const stats = this.calls.get(key) ?? { calls: 0, throttled: 0, denied: 0, byFunction: {} };
    stats[field] += 1;
    if (field === 'calls')
      stats.byFunction[call.fn ?? 'test'] = (stats.byFunction[call.fn ?? 'test'] ?? 0) + 1;
    this.calls.set(key, stats);
  }

  async #answer(call: SimCall): Promise<Record<string, unknown> | typeof PASS_THROUGH> {
    this.#count(call, 'calls');
    if (call.fn && this.#checkIam) {
      const started = performance.now();
      // The run's own session table stands for the template's (deploy.ts).
      const asDeployed =
        call.input.TableName === this.deployment.env.HUBLESS_TABLE_NAME
          ? { ...call, input: { ...call.input, TableName: this.deployment.templateTableName } }
          : call;
      for (const iamRequest of await this.#mapper.requestsFor(asDeployed)) {
        const decision = await this.#decide(call.fn, iamRequest);
        if (!decision.allowed) {
          this.#count(call, 'denied');
          this.denied.push(`${call.service} ${call.operation}: ${decision.message}`);
          throw awsError('AccessDeniedException', decision.message);
        }
      }
      this.iamMs += performance.now() - started;
    }
    if (call.service === 'dynamodb') return PASS_THROUGH;
    if (
      this.faults.throttle > 0 &&
      this.faults.throttleServices.has(call.service) &&
      Math.random() < this.faults.throttle
    ) {
      this.#count(call, 'throttled');
      throw throttled(call.service);
    }
    try {
      switch (call.service) {
        case 'elasticloadbalancingv2':
          return this.elb.handle(call.operation, call.input);
        case 'ecs':
          return this.ecs.handle(call.operation, call.input);
        case 'elasticfilesystem':
          return this.efs.handle(call.operation, call.input);
        case 'cognito-idp':
          return this.cognito.handle(call.operation, call.input);
        case 'eventbridge': {
          const entries = (call.input.Entries as unknown[]) ?? [];
          if (entries.length > 10) throw awsError('ValidationException', 'At most 10 entries per PutEvents');
          this.published.push(...entries);
          return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
        }
        case 'lambda': {
          // The culler's in-VPC probe: the real lab-probe entry point, invoked synchronously.
          if (call.operation !== 'Invoke') throw awsError('UnsupportedOperation', `Lambda ${call.operation}`);
          const payload = JSON.parse(Buffer.from(call.input.Payload as Uint8Array).toString('utf8'));
          const result = await this.lambdas.labProbe(payload);
          return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(result)) };
        }
        case 'secretsmanager':
          return this.#secret(call.operation, call.input);
        case 'sqs':
          this.sqs.duplicate = this.faults.duplicateLaunch;
          return this.sqs.handle(call.operation, call.input);
        default:
          throw awsError('UnsupportedOperation', `The simulator has no ${call.service}`);
      }
    } catch (error) {
      if ((error as Error).name === 'ThrottlingException') this.#count(call, 'throttled');
      throw error;
    }
  }

  /**
   * One IAM decision per request shape: the simulator takes ~50 ms a request, and a class
   * makes thousands. The shape masks what AWS generates (hex ids) and the students' names,
   * which no policy names (policies name the stage's fixed ARNs and name prefixes, and
   * the deployment's own ids are kept); everything else is compared exactly.
   */
  async #decide(fn: string, request: IamRequest): Promise<{ allowed: boolean; message: string }> {
    const key = `${fn} ${this.#shape(JSON.stringify({ a: request.action, r: request.resource, c: request.context }))}`;
    let decision = this.#decisions.get(key);
    if (!decision) {
      decision = this.deployment.iam.checkRequest(fn, request);
      this.#decisions.set(key, decision);
    }
    return decision;
  }

  #shape(text: string): string {
    return text
      .replace(/[0-9a-f]{8,}/g, (hex) => (this.#fixedIds.has(hex) ? hex : '#'.repeat(hex.length)))
      .replace(/(?<![a-z0-9])[a-z]+\d{4}(?![0-9])/g, 'user0000');
  }

  /** The secrets the stack generates (the lab token key): one random value per secret. */
  #secret(operation: string, input: Record<string, unknown>): Record<string, unknown> {
    if (operation !== 'GetSecretValue')
      throw awsError('UnsupportedOperation', `The simulator does not implement Secrets Manager ${operation}`);
    const id = String(input.SecretId);
    let value = this.#secrets.get(id);
    if (!value) {
      value = randomBytes(32).toString('hex');
      this.#secrets.set(id, value);
    }
    return { ARN: id, Name: id.split(':').pop(), SecretString: value, VersionId: randomUUID() };
  }

  onTaskChange(task: SimTask): void {
    this.events.emitted += 1;
    const detail = JSON.parse(JSON.stringify({ ...describe(task), updatedAt: new Date().toISOString() }));
    const event = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      account: this.deployment.account,
      time: new Date().toISOString(),
      region: this.deployment.region,
      resources: [task.taskArn],
      detail,
    };
    if (Math.random() < this.faults.loseEvent) {
      this.events.lost += 1;
      return;
    }
    const copies = Math.random() < this.faults.duplicateEvent ? 2 : 1;
    if (copies === 2) this.events.duplicated += 1;
    for (let copy = 0; copy < copies; copy++) {
      const [min, max] = this.#eventDelay;
      const extra = Math.random() < 0.3 ? Math.random() * this.faults.reorderEventMs : 0;
      this.#deliver(event, min + Math.random() * (max - min) + extra, 0);
    }
  }

  /** EventBridge invokes the Lambda asynchronously: a failed invocation is retried twice. */
  #deliver(event: unknown, delayMs: number, attempt: number): void {
    this.events.pending += 1;
    setTimeout(() => {
      this.lambdas
        .taskEvents(event)
        .then(() => {
          this.events.delivered += 1;
        })
        .catch(() => {
          this.events.failed += 1;
          if (attempt < 2) this.#deliver(event, 1000, attempt + 1);
        })
        .finally(() => {
          this.events.pending -= 1;
        });
    }, delayMs);
  }

  async startLab(task: SimTask): Promise<void> {
    const lab = this.#runtime
      ? await this.#runtime.start(task, this.#keys)
      : await FakeLab.start(task.environment, this.#verifier(task.environment));
    this.labs.set(task.taskArn, lab);
    this.byIp.set(task.ip, lab);
  }

  stopLab(task: SimTask): void {
    const lab = this.labs.get(task.taskArn);
    lab?.close();
    this.labs.delete(task.taskArn);
    this.byIp.delete(task.ip);
  }

  #verifier(env: Record<string, string>): LabVerifier {
    const key = [
      'HUBLESS_IDENTITY_SIGNER',
      'HUBLESS_IDENTITY_ISSUER',
      'HUBLESS_IDENTITY_CLIENT',
      'HUBLESS_IDENTITY_KEYS_URL',
    ]
      .map((name) => env[name])
      .join('|');
    let verifier = this.#verifiers.get(key);
    if (!verifier) {
      verifier = new LabVerifier(env, {
        pem: (kid) => (kid === this.#keys.kid ? this.#keys.pem : undefined),
      });
      this.#verifiers.set(key, verifier);
    }
    return verifier;
  }

  health(ip: string, port: number, path: string): Promise<number> {
    const lab = this.byIp.get(ip);
    if (!lab || port !== 8888) return Promise.resolve(0);
    if (lab.healthCheck) return Promise.resolve(lab.healthCheck(path));
    return new Promise((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: lab.port, path, method: 'GET', timeout: 4000 },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end();
    });
  }

  /**
   * What the Lambdas reach over HTTP: the ALB's regional key server (this account's
   * signing key), and the labs at their task IPs (the culler's probes).
   */
  #interceptFetch(): () => void {
    const real = globalThis.fetch;
    const keysHost = new URL(albKeysUrl(this.deployment.region)).hostname;
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      if (url.hostname === keysHost) {
        const kid = url.pathname.split('/').pop();
        return kid === this.#keys.kid
          ? new Response(this.#keys.pem, { status: 200 })
          : new Response('Not Found', { status: 404 });
      }
      if (/^10\.40\./.test(url.hostname)) {
        const lab = this.byIp.get(url.hostname);
        if (!lab)
          throw new TypeError('fetch failed', { cause: new Error(`connect ETIMEDOUT ${url.hostname}`) });
        url.hostname = '127.0.0.1';
        url.port = String(lab.port);
        return real(url, init);
      }
      return real(input, init);
    }) as typeof fetch;
    return () => {
      globalThis.fetch = real;
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
