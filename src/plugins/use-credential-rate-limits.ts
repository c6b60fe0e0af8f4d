import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { tallyCredentialMutations } from '../abuse/credential-mutations.js';
import { mutationArguments } from '../abuse/mutation-arguments.js';
import type { RateLimits } from '../abuse/rate-limits.js';
import type { GatewayContext } from '../context.js';

/**
 * Counts the limited mutations (limited-mutations.ts) against their limits, per field rather than per
 * request: it runs once per operation after validation and before execution (after the
 * context, so the caller is known), so every operation of a batch counts, and it tallies the
 * fields of the operation (aliases, repetitions, fragments).
 *
 * An operation with more than one such field is refused whole, before any of them runs, with
 * BAD_USER_INPUT (HTTP 400): it is a malformed request, not one that could pass later, so
 * RATE_LIMITED would invite a retry. It costs no points, checks no password, mints nothing.
 * Otherwise the field counts against the limits the table declares for it, keyed by client,
 * account or argument value (variables applied); over a limit, RATE_LIMITED (HTTP 429,
 * Retry-After). An operation whose variables do not coerce counts against nothing: execution
 * refuses it anyway.
 */
export function useCredentialRateLimits({ rateLimits }: { rateLimits: RateLimits }): Plugin<GatewayContext> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const fields = tallyCredentialMutations(args.document, args.operationName, rateLimits.mutations);
      if (fields.count === 0 || !fields.field) return;
      if (fields.count > 1) {
        setResultAndStopExecution({ errors: [oneCredentialMutationPerOperation(rateLimits.mutations, [...fields.names].join(', '))] });
        return;
      }
      const values = mutationArguments(args.schema, args.document, args.operationName, fields.field, args.variableValues);
      if (!values) return;
      const { client, caller } = args.contextValue;
      try {
        await rateLimits.limitedMutation(fields.field.name.value, { clientIp: client.ip, userId: caller?.userId, arguments: values });
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        setResultAndStopExecution({ errors: [error] });
      }
    },
  };
}

function oneCredentialMutationPerOperation(mutations: ReadonlySet<string>, fields: string): GraphQLError {
  return new GraphQLError(`An operation may contain at most one of these mutations: ${[...mutations].join(', ')}`, {
    extensions: { code: 'BAD_USER_INPUT', field: fields, http: { status: 400 } },
  });
}
