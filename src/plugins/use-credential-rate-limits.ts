import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { CREDENTIAL_MUTATIONS, tallyCredentialMutations } from '../abuse/credential-mutations.js';
import { LIMITED_MUTATIONS } from '../abuse/limited-mutations.js';
import type { RateLimits } from '../abuse/rate-limits.js';
import type { GatewayContext } from '../context.js';

/**
 * Counts the mutations of LIMITED_MUTATIONS against their limits, per field rather than per
 * request: it runs once per operation after validation and before execution (after the
 * context, so the caller is known), so every operation of a batch counts, and it tallies the
 * fields of the operation (aliases, repetitions, fragments).
 *
 * An operation with more than one such field is refused whole, before any of them runs, with
 * BAD_USER_INPUT (HTTP 400): it is a malformed request, not one that could pass later, so
 * RATE_LIMITED would invite a retry. It costs no points, checks no password, mints nothing.
 * Otherwise the field counts against the per-client and per-account limits the table gives it;
 * over a limit, RATE_LIMITED (HTTP 429, Retry-After).
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
      const [name] = fields.names;
      const { client, caller } = args.contextValue;
      try {
        await rateLimits.limitedMutation(LIMITED_MUTATIONS[name!]!, { clientIp: client.ip, userId: caller?.userId });
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
  };
}

function oneCredentialMutationPerOperation(fields: string): GraphQLError {
  return new GraphQLError(`An operation may contain at most one of these mutations: ${[...CREDENTIAL_MUTATIONS].join(', ')}`, {
    extensions: { code: 'BAD_USER_INPUT', field: fields, http: { status: 400 } },
  });
}
