import {
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  AdminLinkProviderForUserCommand,
  AdminSetUserPasswordCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  collisionMessage,
  type FederatedAccounts,
  IdentityCollisionError,
  type MappedUser,
} from '../../core/federation.ts';
import { initialPassword } from '../../core/ids.ts';
import type { User } from '../../core/ports.ts';
import type { CognitoDirectory } from './cognito-directory.ts';
import { type AwsCaller, awsCaller, awsErrorName } from './retry.ts';

/**
 * FederatedAccounts on the Cognito user pool, for the pre sign-up trigger of an external
 * provider (functions/handlers/federated-sign-up.ts). The hubless user is a native pool
 * user named by the mapping, and the provider identity (`<provider>`, its id) is linked to
 * it with AdminLinkProviderForUser: Cognito then signs the person in under the hubless
 * name, so the load balancer's `username` claim, the directory, groups, the admin page
 * and the labs' owner check all see that name, with no second copy of the mapping.
 *
 * The owner of a name is the identity linked to it (Cognito's `identities` attribute).
 * signIn, per the port's contract:
 * - no user of that name: creates it (no invitation; a random password nobody is told, so
 *   it is CONFIRMED and signs in only through the provider), links the identity, and sets
 *   the mapped groups and admin flag. Creation is atomic per name in Cognito
 *   (UsernameExistsException): of two identities racing for a name, one gets a collision.
 *   A link that fails deletes the user it just made, so a retry starts clean;
 * - a user the same identity is linked to: updates groups and admin when mapped;
 * - any other user of that name (linked to another identity, or made in hubless):
 *   IdentityCollisionError, and nothing changes.
 */
export class CognitoFederatedAccounts implements FederatedAccounts {
  readonly #cognito: Pick<CognitoIdentityProviderClient, 'send'>;
  readonly #pool: string;
  readonly #directory: CognitoDirectory;
  readonly #call: AwsCaller;

  constructor(config: {
    cognito: Pick<CognitoIdentityProviderClient, 'send'>;
    userPoolId: string;
    directory: CognitoDirectory;
  }) {
    this.#cognito = config.cognito;
    this.#pool = config.userPoolId;
    this.#directory = config.directory;
    this.#call = awsCaller('Amazon Cognito user pools');
  }

  async signIn(mapped: MappedUser): Promise<User> {
    const name = mapped.username;
    const linked = await this.#linkedIdentities(name);
    if (linked) {
      const own = linked.some(
        (id) => id.providerName === mapped.owner.issuer && id.userId === mapped.owner.subject,
      );
      if (!own) throw new IdentityCollisionError(name, collisionMessage(name, linked.length > 0));
      return this.#setGroups(mapped);
    }
    try {
      await this.#call('Cognito AdminCreateUser', () =>
        this.#cognito.send(
          new AdminCreateUserCommand({
            UserPoolId: this.#pool,
            Username: name,
            MessageAction: 'SUPPRESS',
            UserAttributes: mapped.email
              ? [
                  { Name: 'email', Value: mapped.email },
                  // The mapping keeps only an address the provider did not call unverified.
                  { Name: 'email_verified', Value: 'true' },
                ]
              : [],
          }),
        ),
      );
    } catch (error) {
      if (awsErrorName(error) !== 'UsernameExistsException') throw error;
      const winner = await this.#linkedIdentities(name);
      throw new IdentityCollisionError(name, collisionMessage(name, (winner?.length ?? 0) > 0));
    }
    try {
      await this.#call('Cognito AdminLinkProviderForUser', () =>
        this.#cognito.send(
          new AdminLinkProviderForUserCommand({
            UserPoolId: this.#pool,
            DestinationUser: { ProviderName: 'Cognito', ProviderAttributeValue: name },
            SourceUser: {
              ProviderName: mapped.owner.issuer,
              ProviderAttributeName: 'Cognito_Subject',
              ProviderAttributeValue: mapped.owner.subject,
            },
          }),
        ),
      );
    } catch (error) {
      await this.#call('Cognito AdminDeleteUser', () =>
        this.#cognito.send(new AdminDeleteUserCommand({ UserPoolId: this.#pool, Username: name })),
      );
      throw error;
    }
    await this.#call('Cognito AdminSetUserPassword', () =>
      this.#cognito.send(
        new AdminSetUserPasswordCommand({
          UserPoolId: this.#pool,
          Username: name,
          Password: initialPassword(),
          Permanent: true,
        }),
      ),
    );
    return this.#setGroups(mapped);
  }

  /** The identities linked to `name` ([] for a user made in hubless), or undefined: no such user. */
  async #linkedIdentities(
    name: string,
  ): Promise<Array<{ providerName?: string; userId?: string }> | undefined> {
    try {
      const found = await this.#call('Cognito AdminGetUser', () =>
        this.#cognito.send(new AdminGetUserCommand({ UserPoolId: this.#pool, Username: name })),
      );
      const raw = found.UserAttributes?.find((a) => a.Name === 'identities')?.Value;
      return raw ? (JSON.parse(raw) as Array<{ providerName?: string; userId?: string }>) : [];
    } catch (error) {
      if (awsErrorName(error) === 'UserNotFoundException') return undefined;
      throw error;
    }
  }

  async #setGroups(mapped: MappedUser): Promise<User> {
    return this.#directory.upsert({
      name: mapped.username,
      ...(mapped.groups ? { groups: mapped.groups } : {}),
      ...(mapped.admin !== undefined ? { admin: mapped.admin } : {}),
    });
  }
}
