import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { internalError } from '../errors.js';

/**
 * Yoga's error mask. GraphQL errors (ours, parse and validation errors) pass unchanged, except
 * for the input they would echo (see withoutEchoedInput); anything else becomes INTERNAL with
 * no message, no stack and no internals, and is logged.
 */
export function createMaskError(logger: Logger) {
  return (error: unknown): Error => {
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (!original || original instanceof GraphQLError) return withoutEchoedInput(error);
      logger.error({ err: original, path: error.path }, 'unexpected error');
      return internalError();
    }
    logger.error({ err: error }, 'unexpected error');
    return internalError();
  };
}

/**
 * Yoga's request parser reports a body that is not JSON with `extensions.originalError`: the
 * JSON.parse message, which quotes the body (`"{"password": "hunter2" is not valid JSON`),
 * whatever NODE_ENV says. That quote is dropped. So is `http.spec`, which Yoga reads, for
 * `Accept: application/json` only, as "answer 200 unless originalError is present": the
 * answer keeps the 400 it had.
 */
function withoutEchoedInput(error: GraphQLError): GraphQLError {
  if (error.extensions.originalError === undefined) return error;
  const { originalError: _echo, http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...extensions, ...(http ? { http: { status: http.status, headers: http.headers } } : {}) },
  });
}
