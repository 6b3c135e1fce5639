import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/**
 * A school's OpenID provider for tests: a second oidc-provider instance on loopback,
 * with oidc-provider's own development login page (any password) and consent page, and
 * the people given here. It releases `preferred_username`, `email` and a `groups` claim
 * (scope "groups"), as a university's Keycloak or Azure AD would.
 */
export interface UniversityPerson {
  /** What the person types on the login page (the provider's account id). */
  login: string;
  /** The provider's stable id of the person. */
  sub: string;
  claims: Record<string, unknown>;
}

export interface University {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

export async function startUniversity(options: {
  people: UniversityPerson[];
  /** The hubless gateway's callback (<public URL>/oauth2/idpresponse). */
  redirectUri: string;
  postLogoutRedirectUri: string;
}): Promise<University> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'hubless-at-the-university';
  const clientSecret = 'university-client-secret-0123456789';
  const byLogin = new Map(options.people.map((person) => [person.login, person]));
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        post_logout_redirect_uris: [options.postLogoutRedirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
    },
    pkce: { required: () => true },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Grant: 600,
      Session: 600,
    },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx: unknown, id: string) {
      const person = byLogin.get(id);
      if (!person) return undefined;
      return { accountId: id, claims: async () => ({ ...person.claims, sub: person.sub }) };
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
