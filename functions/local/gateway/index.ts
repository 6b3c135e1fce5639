export { CALLBACK_PATH, LOGOUT_PATH } from './browser-sessions.ts';
export { SESSION_COOKIE } from './identity-headers.ts';
export {
  DEFAULT_GATEWAY_CLIENT_ID,
  type Gateway,
  type GatewayOptions,
  gatewayIssuer,
  HEALTH_PATH,
} from './options.ts';
export { startGateway } from './server.ts';
