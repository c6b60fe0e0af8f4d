import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { tallyCredentialMutations } from '../abuse/credential-mutations.js';
import type { RateLimits } from '../abuse/rate-limits.js';
import type { GatewayContext } from '../context.js';

/**
 * Counts credential mutations against the per-IP limits, per field rather than per request:
 * it runs once per operation after validation and before execution, so every operation of a
 * batch counts, and it tallies the fields of the operation (aliases, repetitions, fragments).
 *
 * An operation with more than one credential mutation field is refused whole, before any of
 * them runs, with BAD_USER_INPUT (HTTP 400): it is a malformed request, not one that could pass
 * later, so RATE_LIMITED would invite a retry. It costs no points and checks no password.
 * Otherwise the field takes a token from the client's bucket, and register one more point from
 * the client's hourly registration limit; over a limit, RATE_LIMITED (HTTP 429, Retry-After).
 */
export function useCredentialRateLimits({ rateLimits }: { rateLimits: RateLimits }): Plugin<GatewayContext> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const fields = tallyCredentialMutations(args.document, args.operationName);
      if (fields.count === 0) return;
      if (fields.count > 1) {
        setResultAndStopExecution({ errors: [oneCredentialMutationPerOperation([...fields.names].join(', '))] });
        return;
      }
      const client = args.contextValue.client.ip;
      try {
        await rateLimits.credentialMutation(client);
        if (fields.names.has('register')) await rateLimits.registration(client);
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
  };
}

function oneCredentialMutationPerOperation(fields: string): GraphQLError {
  return new GraphQLError('An operation may contain at most one credential mutation (register, login, refresh, changePassword, deleteAccount)', {
    extensions: { code: 'BAD_USER_INPUT', field: fields, http: { status: 400 } },
  });
}
