import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  deploymentConfigAttributes,
  parseDeploymentConfig,
} from '../../functions/adapters/aws/deployment-config.ts';
import { parseSettings } from '../../functions/core/config.ts';
import {
  CONFIG_FILE,
  DEFAULT_ALB_QUOTA,
  parseStageConfig,
  readStageConfig,
  TEST_STAGE_DEFAULTS,
} from '../../stacks/config.ts';
import { buildApp, type StackName, type Synthesized, synthesize } from './synth.ts';

const good = { ...TEST_STAGE_DEFAULTS };

function failure(raw: unknown, stage = 'test'): string {
  try {
    parseStageConfig(raw, stage);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('stage configuration', () => {
  describe('parseStageConfig', () => {
    it('fills defaults the operator did not set', () => {
      const config = parseStageConfig(
        { domain: 'labs.example.org', certificateArn: good.certificateArn },
        'prod',
      );
      expect(config).toMatchObject({
        albPoolSize: 1,
        natGateways: 1,
        cullEveryMinutes: 5,
        namedServerLimit: 3,
        retentionDays: 30,
        production: true,
      });
      expect(config.profiles.length).toBeGreaterThan(0);
      expect(config.authDomainPrefix).toBe('prod-labs-example-org');
    });

    it('names the field and the allowed range of a bad named server limit', () => {
      expect(failure({ ...good, namedServerLimit: 101 })).toMatch(/namedServerLimit: .*100/);
      expect(failure({ ...good, namedServerLimit: -1 })).toMatch(/namedServerLimit: .*0/);
    });

    it('names the field and the allowed range of a bad pool size', () => {
      const message = failure({ ...good, albPoolSize: DEFAULT_ALB_QUOTA + 1 });
      expect(message).toContain('stage "test"');
      expect(message).toContain(`albPoolSize: must be at most albQuota (${DEFAULT_ALB_QUOTA})`);
      expect(message).toContain('Service Quotas');
      // A raised quota admits a larger pool.
      expect(() =>
        parseStageConfig({ ...good, albPoolSize: DEFAULT_ALB_QUOTA + 1, albQuota: 100 }, 'test'),
      ).not.toThrow();
      expect(failure({ ...good, albPoolSize: 0 })).toMatch(/albPoolSize: .*1/);
    });

    it('names the profile and lists the Fargate memory sizes allowed for its cpu', () => {
      const message = failure({
        ...good,
        profiles: [{ name: 'odd', description: 'x', cpu: 256, memory: 4096, spot: false, groups: [] }],
      });
      expect(message).toContain(
        'profiles.0.memory: is not a Fargate size for cpu 256; allowed: 512, 1024, 2048 MiB',
      );
    });

    it('refuses Spot profiles on arm64 labs, naming both settings (Fargate Spot runs no ARM64 tasks)', () => {
      const message = failure({
        ...good,
        labArchitecture: 'arm64',
        profiles: [
          { name: 'small', description: 'x', cpu: 512, memory: 2048, spot: false, groups: [] },
          { name: 'cheap', description: 'x', cpu: 512, memory: 2048, spot: true, groups: [] },
        ],
      });
      expect(message).toContain('profiles.1.spot: Fargate Spot does not run ARM64 tasks');
      expect(message).toContain('labArchitecture');
      expect(message).not.toContain('profiles.0');
      expect(() => parseStageConfig({ ...good, labArchitecture: 'x86_64' }, 'test')).not.toThrow();
    });

    it('refuses a cpu value Fargate does not offer', () => {
      expect(
        failure({ ...good, profiles: [{ name: 'odd', description: 'x', cpu: 300, memory: 1024 }] }),
      ).toMatch(/profiles\.0\.cpu: must be a Fargate cpu value: 256, 512/);
    });

    it('requires exactly one of certificateArn and hostedZone', () => {
      expect(failure({ domain: 'labs.example.org' })).toContain(
        'certificateArn: set exactly one of certificateArn or hostedZone',
      );
      expect(failure({ ...good, hostedZone: { zoneId: 'Z123ABC', zoneName: 'example.edu' } })).toContain(
        'certificateArn: set exactly one',
      );
    });

    it('refuses unknown keys, log retentions CloudWatch lacks and unknown LMS scopes', () => {
      expect(failure({ ...good, albPoolSzie: 2 })).toMatch(/albPoolSzie/);
      expect(failure({ ...good, retentionDays: 10 })).toMatch(
        /retentionDays: must be one of 1, 3, 5, 7, 14, 30/,
      );
      expect(failure({ ...good, lmsClients: [{ name: 'moodle', scopes: ['admin'] }] })).toMatch(
        /lmsClients\.0\.scopes\.0/,
      );
    });
  });

  describe('readStageConfig', () => {
    it('reads the stage key of hubless.config.json', () => {
      const root = mkdtempSync(path.join(tmpdir(), 'hubless-config-'));
      writeFileSync(path.join(root, CONFIG_FILE), JSON.stringify({ prod: { domain: 'a.example.org' } }));
      expect(readStageConfig(root, 'prod').raw).toEqual({ domain: 'a.example.org' });
    });

    it('uses built-in defaults for the test stage only', () => {
      const root = mkdtempSync(path.join(tmpdir(), 'hubless-config-'));
      expect(readStageConfig(root, 'test').raw).toBe(TEST_STAGE_DEFAULTS);
      expect(() => readStageConfig(root, 'prod')).toThrow(/add a "prod" key to hubless.config.json/);
    });
  });

  describe('synthesis', () => {
    it('fails with the name of a bad value', async () => {
      await expect(buildApp({ config: { ...good, natGateways: 3 } })).rejects.toThrow(/natGateways: .*2/);
    });

    it('refuses a profile name the Lambdas would refuse on every cold start', async () => {
      const profiles = [{ name: '2xl', description: '2 vCPU, 4 GiB', cpu: 2048, memory: 4096 }];
      await expect(buildApp({ config: { ...good, profiles } })).rejects.toThrow(
        /profiles\.0\.name: must start with a letter/,
      );
    });

    it('hands the Lambdas profiles that their cold start parses as they are', () => {
      const { profiles } = parseStageConfig(good, 'test');
      const listener =
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/hl-test-0/50dc6c495c0c9188/f2f7dc8efc522ab2';
      const item = deploymentConfigAttributes([listener], profiles);
      expect(parseDeploymentConfig(item, 'labs.example.edu', 'test').profiles).toEqual(profiles);
      // Local mode reads the same schema from HUBLESS_PROFILES.
      expect(parseSettings({ HUBLESS_PROFILES: JSON.stringify(profiles) }).profiles).toEqual(profiles);
    });
  });
});

/** More balancers than the environment could ever carry (six), still quick to synthesize. */
const POOL = 8;

describe('a production stage with a Route 53 zone', () => {
  let synth: Synthesized;
  let t: Record<StackName, Template>;
  beforeAll(async () => {
    const { certificateArn: _omit, ...rest } = good;
    synth = await synthesize({
      nag: true,
      config: {
        ...rest,
        hostedZone: { zoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.edu' },
        albPoolSize: POOL,
        labNetwork: 'private-nat',
        natGateways: 2,
        cullEveryMinutes: 10,
        namedServerLimit: 0,
        emailFrom: 'labs@example.edu',
        production: true,
        threatProtection: false,
      },
    });
    t = synth.templates;
    console.info(`[infra] synthesized the production variant in ${Math.round(synth.millis)} ms`);
  });

  it('protects the table, the file system and the user pool from deletion', () => {
    t.Storage.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
    t.Storage.hasResource('AWS::EFS::FileSystem', { DeletionPolicy: 'Retain' });
    t.Identity.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtection: 'ACTIVE' }),
    });
  });

  it('issues a DNS-validated certificate for the domain and its pool hosts, and points every host at its ALB', () => {
    t.Routing.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'labs.example.edu',
      SubjectAlternativeNames: ['*.labs.example.edu'],
      ValidationMethod: 'DNS',
    });
    for (const host of [
      'labs.example.edu.',
      'pool1.labs.example.edu.',
      `pool${POOL - 1}.labs.example.edu.`,
    ]) {
      t.Routing.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: host,
        Type: 'A',
        HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      });
    }
    t.Routing.resourceCountIs('AWS::Route53::RecordSet', POOL);
    t.Routing.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', POOL);
  });

  it('follows the configured NAT count (labNetwork private-nat) and cull interval', () => {
    t.Network.resourceCountIs('AWS::EC2::NatGateway', 2);
    t.Schedules.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
  });

  it('hands every control-plane Lambda the configured named server limit, as core parses it', () => {
    const fns = (Object.values(t) as Template[]).flatMap((template) =>
      Object.values(template.findResources('AWS::Lambda::Function')).filter(
        (r) => r.Properties.Environment?.Variables?.HUBLESS_TABLE_NAME,
      ),
    );
    expect(fns.length).toBeGreaterThanOrEqual(4);
    for (const fn of fns) {
      const value = fn.Properties.Environment.Variables.HUBLESS_NAMED_SERVER_LIMIT;
      expect(value).toBe('0');
      expect(parseSettings({ HUBLESS_NAMED_SERVER_LIMIT: value }).namedServerLimit).toBe(0);
    }
  });

  it('sends invitations through SES from the configured address', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPool', {
      EmailConfiguration: Match.objectLike({
        EmailSendingAccount: 'DEVELOPER',
        From: 'hubless <labs@example.edu>',
        SourceArn: Match.anyValue(),
      }),
    });
  });

  it('stays on the Essentials plan when threat protection is off, and cdk-nag still passes', () => {
    t.Identity.hasResourceProperties('AWS::Cognito::UserPool', { UserPoolTier: 'ESSENTIALS' });
    expect(Object.values(synth.errors).flat()).toEqual([]);
  });
});
