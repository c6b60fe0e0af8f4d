import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { internalError } from '../errors.js';

/**
 * Yoga's error mask. GraphQL errors (ours, parse and validation errors) pass unchanged;
 * anything else becomes INTERNAL with no message, no stack and no internals, and is logged.
 */
export function createMaskError(logger: Logger) {
  return (error: unknown): Error => {
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (!original || original instanceof GraphQLError) return error;
      logger.error({ err: original, path: error.path }, 'unexpected error');
      return internalError();
    }
    logger.error({ err: error }, 'unexpected error');
    return internalError();
  };
}
