import { createHash } from 'node:crypto';

/**
 * A synthesized CloudFormation app made concrete, as if deployed once: every Ref,
 * Fn::GetAtt, Fn::ImportValue, Fn::Join, Fn::Sub, Fn::Select and Fn::Split resolves to the
 * string CloudFormation would produce, with deterministic physical ids (a hash of the
 * stack and logical id). Nothing here decides a permission: it only turns tokens into
 * the names and ARNs AWS would hand the functions, so a policy and an environment
 * variable that name the same resource resolve to the same string.
 */

export interface DeploymentOptions {
  account: string;
  region: string;
  partition?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON is untyped by nature.
export type Json = any;

interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
}

interface StackTemplate {
  Resources?: Record<string, Resource>;
  Outputs?: Record<string, { Value: Json; Export?: { Name: Json } }>;
}

/** A physical resource: what `Ref` gives and what each `Fn::GetAtt` attribute gives. */
interface Physical {
  ref: string;
  attributes: Record<string, string>;
}

export class Deployment {
  readonly account: string;
  readonly region: string;
  readonly partition: string;
  readonly #stacks: Record<string, StackTemplate>;
  readonly #physical = new Map<string, Physical>();
  readonly #exports = new Map<string, { stack: string; value: Json }>();

  /** `stacks`: CloudFormation stack name -> template JSON. */
  constructor(stacks: Record<string, StackTemplate>, options: DeploymentOptions) {
    this.#stacks = stacks;
    this.account = options.account;
    this.region = options.region;
    this.partition = options.partition ?? 'aws';
    for (const [stack, template] of Object.entries(stacks)) {
      for (const output of Object.values(template.Outputs ?? {})) {
        if (output.Export)
          this.#exports.set(this.resolve(stack, output.Export.Name), { stack, value: output.Value });
      }
    }
  }

  get stackNames(): string[] {
    return Object.keys(this.#stacks);
  }

  resources(stack: string): Record<string, Resource> {
    return this.#stacks[stack]?.Resources ?? {};
  }

  /** Resolves a template value in `stack` to plain JSON (strings, lists, objects). */
  resolve(stack: string, value: Json): Json {
    if (Array.isArray(value)) return value.map((item) => this.resolve(stack, item));
    if (value === null || typeof value !== 'object') return value;
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = value[key];
      switch (key) {
        case 'Ref':
          return this.#ref(stack, arg);
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = typeof arg === 'string' ? arg.split(/\.(.*)/s) : arg;
          return this.#getAtt(stack, logicalId, attribute);
        }
        case 'Fn::ImportValue': {
          const name = this.resolve(stack, arg);
          const exported = this.#exports.get(name);
          if (!exported) throw new Error(`Fn::ImportValue: no stack exports "${name}"`);
          return this.resolve(exported.stack, exported.value);
        }
        case 'Fn::Join': {
          const [separator, parts] = arg;
          return (this.resolve(stack, parts) as Json[]).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg;
          return (this.resolve(stack, list) as Json[])[Number(this.resolve(stack, index))];
        }
        case 'Fn::Split': {
          const [separator, text] = arg;
          return String(this.resolve(stack, text)).split(separator);
        }
        case 'Fn::Sub':
          return this.#sub(stack, arg);
        case 'Fn::GetAZs':
          return [`${this.region}a`, `${this.region}b`];
      }
    }
    return Object.fromEntries(keys.map((key) => [key, this.resolve(stack, value[key])]));
  }

  #sub(stack: string, arg: Json): string {
    const [text, variables] = typeof arg === 'string' ? [arg, {}] : arg;
    return String(text).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in variables) return String(this.resolve(stack, variables[name]));
      if (name.startsWith('AWS::')) return this.#ref(stack, name);
      const [logicalId, attribute] = name.split(/\.(.*)/s) as [string, string | undefined];
      return attribute ? this.#getAtt(stack, logicalId, attribute) : this.#ref(stack, logicalId);
    });
  }

  #ref(stack: string, logicalId: string): string {
    switch (logicalId) {
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Region':
        return this.region;
      case 'AWS::Partition':
        return this.partition;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return stack;
      case 'AWS::NoValue':
        return '';
    }
    return this.physical(stack, logicalId).ref;
  }

  #getAtt(stack: string, logicalId: string, attribute: string): string {
    const physical = this.physical(stack, logicalId);
    const value = physical.attributes[attribute];
    if (value === undefined) return `${physical.ref}.${attribute}`;
    return value;
  }

  /** The physical id and attributes of one resource (created on first use, then stable). */
  physical(stack: string, logicalId: string): Physical {
    const key = `${stack}/${logicalId}`;
    const known = this.#physical.get(key);
    if (known) return known;
    const resource = this.resources(stack)[logicalId];
    if (!resource) throw new Error(`${stack} has no resource "${logicalId}"`);
    const made = this.#make(stack, logicalId, resource);
    this.#physical.set(key, made);
    return made;
  }

  #make(stack: string, logicalId: string, resource: Resource): Physical {
    const props = resource.Properties ?? {};
    const prop = (name: string): string | undefined =>
      props[name] === undefined ? undefined : String(this.resolve(stack, props[name]));
    const hex = (length: number) => digest(`${stack}/${logicalId}`, 'hex').slice(0, length);
    const generated = (max: number) => `${stack}-${logicalId}-${hex(12).toUpperCase()}`.slice(-max);
    const arn = (service: string, resourcePart: string, region = this.region, account = this.account) =>
      `arn:${this.partition}:${service}:${region}:${account}:${resourcePart}`;
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table': {
        const name = prop('TableName') ?? generated(255);
        return { ref: name, attributes: { Arn: arn('dynamodb', `table/${name}`) } };
      }
      case 'AWS::ECS::Cluster': {
        const name = prop('ClusterName') ?? generated(255);
        return { ref: name, attributes: { Arn: arn('ecs', `cluster/${name}`) } };
      }
      case 'AWS::EFS::FileSystem': {
        const id = `fs-${hex(17)}`;
        return {
          ref: id,
          attributes: { Arn: arn('elasticfilesystem', `file-system/${id}`), FileSystemId: id },
        };
      }
      case 'AWS::EFS::AccessPoint': {
        const id = `fsap-${hex(17)}`;
        return {
          ref: id,
          attributes: { Arn: arn('elasticfilesystem', `access-point/${id}`), AccessPointId: id },
        };
      }
      case 'AWS::IAM::Role': {
        const name = prop('RoleName') ?? generated(64);
        const path = prop('Path') ?? '/';
        return {
          ref: name,
          attributes: { Arn: arn('iam', `role${path}${name}`, ''), RoleId: `AROA${hex(17).toUpperCase()}` },
        };
      }
      case 'AWS::Cognito::UserPool': {
        const id = `${this.region}_${digest(logicalId, 'base64url')
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(0, 9)}`;
        return {
          ref: id,
          attributes: {
            Arn: arn('cognito-idp', `userpool/${id}`),
            ProviderName: `cognito-idp.${this.region}.amazonaws.com/${id}`,
            ProviderURL: `https://cognito-idp.${this.region}.amazonaws.com/${id}`,
            UserPoolId: id,
          },
        };
      }
      case 'AWS::Cognito::UserPoolClient': {
        const id = digest(`${stack}/${logicalId}`, 'hex')
          .replace(/[^a-z0-9]/g, '')
          .slice(0, 26);
        return { ref: id, attributes: { ClientId: id, ClientSecret: `secret-${id}` } };
      }
      case 'AWS::Cognito::UserPoolDomain': {
        const domain = prop('Domain') ?? logicalId.toLowerCase();
        return { ref: domain, attributes: { CloudFrontDistribution: `d${hex(13)}.cloudfront.net` } };
      }
      case 'AWS::ElasticLoadBalancingV2::LoadBalancer': {
        const name = prop('Name') ?? generated(32);
        const id = hex(16);
        return {
          ref: arn('elasticloadbalancing', `loadbalancer/app/${name}/${id}`),
          attributes: {
            LoadBalancerFullName: `app/${name}/${id}`,
            LoadBalancerName: name,
            DNSName: `${name}-${parseInt(hex(8), 16)}.${this.region}.elb.amazonaws.com`,
            CanonicalHostedZoneID: 'Z35SXDOTRQ7X7K',
          },
        };
      }
      case 'AWS::ElasticLoadBalancingV2::Listener': {
        const balancer = prop('LoadBalancerArn') ?? '';
        const fullName = balancer.split(':loadbalancer/')[1] ?? `app/unknown/${hex(16)}`;
        const listenerArn = arn('elasticloadbalancing', `listener/${fullName}/${hex(16)}`);
        return { ref: listenerArn, attributes: { ListenerArn: listenerArn } };
      }
      case 'AWS::ElasticLoadBalancingV2::TargetGroup': {
        const name = prop('Name') ?? generated(32);
        const tgArn = arn('elasticloadbalancing', `targetgroup/${name}/${hex(16)}`);
        return { ref: tgArn, attributes: { TargetGroupArn: tgArn, TargetGroupName: name } };
      }
      case 'AWS::EC2::VPC':
        return { ref: `vpc-${hex(17)}`, attributes: { CidrBlock: prop('CidrBlock') ?? '10.0.0.0/16' } };
      case 'AWS::EC2::Subnet':
        return { ref: `subnet-${hex(17)}`, attributes: { SubnetId: `subnet-${hex(17)}` } };
      case 'AWS::EC2::SecurityGroup':
        return { ref: `sg-${hex(17)}`, attributes: { GroupId: `sg-${hex(17)}` } };
      case 'AWS::Logs::LogGroup': {
        const name = prop('LogGroupName') ?? generated(512);
        return { ref: name, attributes: { Arn: arn('logs', `log-group:${name}:*`) } };
      }
      case 'AWS::Lambda::Function': {
        const name = prop('FunctionName') ?? generated(64);
        return { ref: name, attributes: { Arn: arn('lambda', `function:${name}`) } };
      }
      case 'AWS::SecretsManager::Secret': {
        // Secrets Manager appends "-" and six random characters to the name in the ARN.
        const name = prop('Name') ?? generated(128);
        const secretArn = arn(
          'secretsmanager',
          `secret:${name}-${digest(name, 'base64url')
            .replace(/[^A-Za-z0-9]/g, '')
            .slice(0, 6)}`,
        );
        return { ref: secretArn, attributes: { Id: secretArn } };
      }
      case 'AWS::SQS::Queue': {
        // Ref is the queue URL; the ARN names the queue the same way.
        const name = prop('QueueName') ?? generated(80);
        return {
          ref: `https://sqs.${this.region}.amazonaws.com/${this.account}/${name}`,
          attributes: {
            Arn: arn('sqs', name),
            QueueName: name,
            QueueUrl: `https://sqs.${this.region}.amazonaws.com/${this.account}/${name}`,
          },
        };
      }
      case 'AWS::ECR::Repository': {
        const name = prop('RepositoryName') ?? generated(256).toLowerCase();
        return { ref: name, attributes: { Arn: arn('ecr', `repository/${name}`) } };
      }
      default:
        return { ref: `${logicalId}-${hex(8)}`, attributes: {} };
    }
  }
}

function digest(text: string, encoding: 'hex' | 'base64url'): string {
  return createHash('sha256').update(text).digest(encoding);
}
