/**
 * The HTTP event shapes hubless handlers accept, the subsets of AWS's own:
 * - AlbEvent/AlbResult: an Application Load Balancer invoking a Lambda target
 *   (multi-value headers off). The portal handler receives these, from the ALB in AWS and
 *   from the local gateway in local mode.
 * - HttpApiEvent/HttpApiResult: API Gateway HTTP API, payload format 2.0. The LMS API
 *   handler receives these, from API Gateway in AWS and from the gateway locally.
 * Header names are lower case in both.
 */
export interface AlbEvent {
  requestContext: { elb: { targetGroupArn: string } };
  httpMethod: string;
  path: string;
  queryStringParameters?: Record<string, string>;
  headers: Record<string, string>;
  body: string | null;
  isBase64Encoded: boolean;
}

export interface AlbResult {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, string>;
  /** For several Set-Cookie headers; the local gateway honours it too. */
  multiValueHeaders?: Record<string, string[]>;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface HttpApiEvent {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    http: { method: string; path: string; protocol?: string; sourceIp?: string; userAgent?: string };
    requestId?: string;
    /** The host the API was called at (API Gateway sets it; the local gateway serves the API on its own origin). */
    domainName?: string;
    /** Set by API Gateway's JWT authorizer in AWS; absent locally (the handler verifies the token itself). */
    authorizer?: {
      jwt?: { claims: Record<string, string | number | boolean | string[]>; scopes?: string[] };
    };
  };
  pathParameters?: Record<string, string>;
  body?: string;
  isBase64Encoded: boolean;
}

export interface HttpApiResult {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}
