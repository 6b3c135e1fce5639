import {
  type FederatedAccounts,
  type FederationPolicy,
  IdentityCollisionError,
  signUpFederated,
  UnmappableIdentityError,
} from '../core/federation.ts';
import type { Log } from '../core/log.ts';

/**
 * Cognito's pre sign-up trigger (stacks/Identity.ts), for the first sign-in of a person
 * through one of the user pool's identity providers. It runs core's mapping and links the
 * identity to the hubless user it names (signUpFederated); Cognito's own sign-ups (the
 * admin page, the API, the CLI) pass through untouched.
 *
 * A refused identity (no usable claim, a taken name) is let through unlinked, under
 * Cognito's `<provider>_<id>` name, rather than failed here: a failed trigger ends at the
 * load balancer's bare 401 page, while the portal can say why (core explainUnlinked),
 * and no hubless page or lab ever accepts a name with an underscore.
 */
export interface PreSignUpEvent {
  triggerSource: string;
  userPoolId: string;
  /** For an external provider: `<provider>_<id>`. */
  userName: string;
  request: { userAttributes?: Record<string, string> };
  response: Record<string, unknown>;
}

export interface FederatedSignUpDeps {
  /** The accounts of the pool the event names. */
  accounts(userPoolId: string): FederatedAccounts;
  /** Absent: the stage has no federation configured, and nobody is linked. */
  policy?: FederationPolicy;
  log?: Log;
}

export function makeFederatedSignUpHandler(deps: FederatedSignUpDeps) {
  return async (event: PreSignUpEvent): Promise<PreSignUpEvent> => {
    if (event.triggerSource !== 'PreSignUp_ExternalProvider') return event;
    if (!deps.policy) {
      deps.log?.('warn', 'federated sign-up without a federation policy: left unlinked', {
        cognitoUsername: event.userName,
      });
      return event;
    }
    try {
      const user = await signUpFederated(
        deps.accounts(event.userPoolId),
        event.userName,
        event.request.userAttributes ?? {},
        deps.policy,
      );
      deps.log?.('info', 'federated identity linked', {
        cognitoUsername: event.userName,
        username: user.name,
      });
    } catch (error) {
      if (!(error instanceof UnmappableIdentityError || error instanceof IdentityCollisionError)) throw error;
      deps.log?.('warn', 'federated sign-up refused: left unlinked', {
        cognitoUsername: event.userName,
        code: error.code,
        reason: error.message,
      });
    }
    return event;
  };
}
