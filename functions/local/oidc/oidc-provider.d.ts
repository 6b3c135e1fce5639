/**
 * The slice of oidc-provider v9's API that hubless uses. The package ships no types
 * (DefinitelyTyped's lag behind v9 and are not a dependency), so this file declares
 * what provider.ts calls, checked against node_modules/oidc-provider/lib.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface InteractionPrompt {
    name: string;
    reasons: string[];
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
      [key: string]: unknown;
    };
  }

  export interface InteractionDetails {
    uid: string;
    prompt: InteractionPrompt;
    params: Record<string, unknown> & { client_id?: string };
    session?: { accountId?: string };
    grantId?: string;
    returnTo: string;
  }

  export interface InteractionResults {
    login?: { accountId: string; remember?: boolean };
    consent?: { grantId: string };
    error?: string;
    error_description?: string;
  }

  export class GrantModel {
    constructor(properties: { accountId?: string; clientId?: string });
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export interface SessionModel {
    accountId?: string;
    destroy(): Promise<void>;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    proxy: boolean;
    Grant: typeof GrantModel;
    /** The session a request's cookie names (a new, empty one when none); lib/models/session.js. */
    Session: { get(ctx: { req: IncomingMessage; res: ServerResponse }): Promise<SessionModel> };
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
    [name: string]: new (...args: never[]) => Error;
  };

  export default Provider;
}
