import { describe, expect, it } from 'vitest';
import { decodeAlbPool, encodeAlbPool, loadBalancerArnOf } from '../../functions/adapters/aws/alb-pool.ts';

const LISTENER =
  'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/hl-prod-1/50dc6c495c0c9188/f2f7dc8efc522ab2';

describe('the ALB pool in the Lambda environment', () => {
  it('carries only listener ARNs and derives each load balancer ARN and pool host', () => {
    const encoded = encodeAlbPool([LISTENER.replace('hl-prod-1', 'hl-prod-0'), LISTENER]);
    expect(decodeAlbPool(encoded, 'labs.example.edu')).toEqual([
      {
        listenerArn: LISTENER.replace('hl-prod-1', 'hl-prod-0'),
        host: 'labs.example.edu',
        loadBalancerArn:
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hl-prod-0/50dc6c495c0c9188',
      },
      {
        listenerArn: LISTENER,
        host: 'pool1.labs.example.edu',
        loadBalancerArn:
          'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hl-prod-1/50dc6c495c0c9188',
      },
    ]);
  });

  it('refuses anything but an Application Load Balancer listener ARN, naming it', () => {
    expect(() => loadBalancerArnOf('arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/y')).toThrow(
      /targetgroup\/x\/y" is not an Application Load Balancer listener ARN/,
    );
  });
});
