export {
  CALLBACK_PATH,
  DEFAULT_GATEWAY_CLIENT_ID,
  type Gateway,
  type GatewayOptions,
  gatewayIssuer,
  HEALTH_PATH,
  LOGOUT_PATH,
  SESSION_COOKIE,
  startGateway,
} from './server.ts';
