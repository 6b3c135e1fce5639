import type { AlbPoolEntry } from './alb-router.ts';
import { poolHost } from './names.ts';

/**
 * The ALB pool as it travels in every Lambda's environment: only the HTTPS listener ARNs,
 * in pool order, comma-separated. Lambda allows 4 KB of environment in total, and each
 * entry's load balancer ARN and host follow from its listener ARN and the domain, so
 * they are derived here instead of carried (test/aws-checks/limits.test.ts measures it).
 */

/** `arn:…:listener/app/<name>/<lb-id>/<listener-id>` -> `arn:…:loadbalancer/app/<name>/<lb-id>`. */
export function loadBalancerArnOf(listenerArn: string): string {
  const match = /^(arn:[^:]+:elasticloadbalancing:[^:]*:\d*:)listener\/(app\/[^/]+\/[^/]+)\/[^/]+$/.exec(
    listenerArn,
  );
  if (!match) throw new Error(`"${listenerArn}" is not an Application Load Balancer listener ARN`);
  return `${match[1]}loadbalancer/${match[2]}`;
}

export function encodeAlbPool(listenerArns: string[]): string {
  return listenerArns.join(',');
}

export function decodeAlbPool(value: string, domain: string): AlbPoolEntry[] {
  return value
    .split(',')
    .map((arn) => arn.trim())
    .filter(Boolean)
    .map((listenerArn, index) => ({
      listenerArn,
      host: poolHost(domain, index),
      loadBalancerArn: loadBalancerArnOf(listenerArn),
    }));
}
