import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** graphql-js's "did you mean" hints: ` Did you mean "username"?`, ` Did you mean the enum value "COOKIE"?`. */
const SUGGESTION = / ?Did you mean [^?]*\?/g;
export const SUGGESTION_MASK = ' [Suggestion hidden]';

/**
 * Removes graphql-js's suggestions from error messages, so that a schema with introspection off
 * cannot be mapped by guessing names and reading the hints. Covers validation errors (unknown
 * fields, arguments, types, enum literals) and the coercion errors of variables, which arise at
 * execution. GraphQL Armor's block-field-suggestions only masks `Did you mean "…"?` in
 * validation, which misses enum values and variables.
 */
export function useHiddenSuggestions(): Plugin {
  return {
    onValidate() {
      return ({ valid, result }) => {
        if (!valid) for (const error of result) hideSuggestions(error);
      };
    },
    onExecute() {
      return { onExecuteDone: ({ result }) => hideSuggestionsIn(result) };
    },
    onSubscribe() {
      return { onSubscribeResult: ({ result }) => hideSuggestionsIn(result) };
    },
  };
}

function hideSuggestionsIn(result: ExecutionResult | AsyncIterable<unknown>): void {
  // Streams only carry resolver errors, which have no suggestions; a refused operation (bad
  // variables) is a single result.
  if (Symbol.asyncIterator in result) return;
  for (const error of result.errors ?? []) hideSuggestions(error);
}

function hideSuggestions(error: GraphQLError): void {
  // GraphQLError's message is writable; a fresh error would lose locations and path.
  if (error.message.includes('Did you mean')) error.message = error.message.replace(SUGGESTION, SUGGESTION_MASK);
}
