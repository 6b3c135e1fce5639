import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { type StackContext, use } from 'sst/constructs';
import { useStageConfig } from './config.ts';
import { controlPlaneEnvironment, grantCapabilities } from './control-plane.ts';
import { Identity } from './Identity.ts';
import { hublessFunction, retentionDays } from './lambda.ts';
import { Routing } from './Routing.ts';

/**
 * Routes API Gateway passes without its JWT authorizer; the handler verifies tokens itself.
 * JupyterHub clients send `Authorization: token <jwt>`, a scheme the authorizer refuses
 * (it reads only Bearer), and the OpenAPI document is public by design.
 */
export const SELF_AUTHENTICATED_ROUTES = [
  { path: '/hub/api/{proxy+}', methods: [HttpMethod.ANY] },
  { path: '/api/v1/openapi.json', methods: [HttpMethod.GET] },
] as const;

/**
 * The machine API (LMS, scripts): an HTTP API whose Cognito JWT authorizer admits tokens
 * of the LMS clients (client credentials) and of the admin client, never of the ALB's
 * client (labs see its tokens); the handler checks the same list on every route,
 * /hub/api included, and the `hubless/<scope>` each route needs.
 */
export function Api({ stack, app }: StackContext) {
  const config = useStageConfig(app);
  const { userPool, adminClient, lmsClients } = use(Identity);
  const { cp } = use(Routing);

  const apiClients = [...lmsClients.map((c) => c.client), adminClient];
  const api = hublessFunction(stack, 'ApiHandler', {
    handler: 'api',
    config,
    environment: {
      ...controlPlaneEnvironment(cp),
      HUBLESS_API_CLIENT_IDS: apiClients.map((client) => client.userPoolClientId).join(','),
    },
  });
  // Starts only queue their launches (the launcher Lambda launches): no RunTask, no homes here.
  grantCapabilities(api, cp, ['sessions', 'queue-launches', 'observe', 'routes', 'directory', 'events']);

  const authorizer = new HttpUserPoolAuthorizer('Cognito', userPool, {
    userPoolClients: apiClients,
  });
  const httpApi = new HttpApi(stack, 'HttpApi', {
    createDefaultStage: false,
    description: `hubless ${app.stage} machine API`,
  });
  const integration = new HttpLambdaIntegration('Handler', api);
  httpApi.addRoutes({ path: '/api/v1/{proxy+}', methods: [HttpMethod.ANY], integration, authorizer });
  for (const route of SELF_AUTHENTICATED_ROUTES) {
    const added = httpApi.addRoutes({ path: route.path, methods: [...route.methods], integration });
    NagSuppressions.addResourceSuppressions(added, [
      {
        id: 'AwsSolutions-APIG4',
        reason:
          'The handler authenticates these itself: JupyterHub clients send "Authorization: token <jwt>", which the JWT authorizer cannot read, and the OpenAPI document is public.',
      },
    ]);
  }

  const accessLogs = new LogGroup(stack, 'ApiAccessLogs', { retention: retentionDays(config.retentionDays) });
  const stage = new HttpStage(stack, 'DefaultStage', {
    httpApi,
    stageName: '$default',
    autoDeploy: true,
    // Per-route defaults; an LMS launching a whole class at once stays well under these.
    throttle: { rateLimit: 50, burstLimit: 100 },
    accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
  });

  stack.addOutputs({ ApiUrl: stage.url });
  return { httpApi, stage, api };
}
