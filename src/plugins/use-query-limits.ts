import { costLimitPlugin } from '@escape.tech/graphql-armor-cost-limit';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface QueryLimits {
  /** Nesting of fields, through fragments (introspection's __schema excluded). */
  readonly maxDepth: number;
  /** Aliased fields per operation. */
  readonly maxAliases: number;
  /** Directives per operation. */
  readonly maxDirectives: number;
  /** Lexical tokens per document, counted while parsing, so a huge document stops early. */
  readonly maxTokens: number;
  /** GraphQL Armor's cost: 2 per object, 1 per scalar, x1.5 per level of depth. */
  readonly maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = Object.freeze({
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 50,
  maxTokens: 1000,
  maxCost: 5000,
});

/** Which limit refused a document (extensions.limit). */
export type QueryLimit = 'MAX_DEPTH' | 'MAX_ALIASES' | 'MAX_DIRECTIVES' | 'MAX_TOKENS' | 'MAX_COST';

/**
 * GraphQL Armor's limits on a document's size and shape. A document over the token limit fails
 * parsing (GRAPHQL_PARSE_FAILED); one over another limit fails validation
 * (GRAPHQL_VALIDATION_FAILED), reported as validation errors rather than thrown so that Yoga
 * answers them like any other invalid document. Both carry `extensions.limit` and HTTP 400,
 * which Yoga sends as the GraphQL-over-HTTP spec says: to a client accepting
 * `application/graphql-response+json`; one accepting only `application/json` gets 200.
 */
export function useQueryLimits(limits: QueryLimits = DEFAULT_QUERY_LIMITS): Plugin {
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        maxTokensPlugin({
          n: limits.maxTokens,
          propagateOnRejection: false,
          onReject: [
            (_context, error) => {
              throw queryLimitError(error.message, 'MAX_TOKENS', 'GRAPHQL_PARSE_FAILED');
            },
          ],
        }),
      );
      // flattenFragments: a fragment spread or inline fragment is no level of the answer, so
      // depth is counted in fields through them (Armor's default adds one per fragment).
      addPlugin(maxDepthPlugin({ n: limits.maxDepth, flattenFragments: true, ...reportAs('MAX_DEPTH') }));
      addPlugin(maxAliasesPlugin({ n: limits.maxAliases, ...reportAs('MAX_ALIASES') }));
      addPlugin(maxDirectivesPlugin({ n: limits.maxDirectives, ...reportAs('MAX_DIRECTIVES') }));
      addPlugin(costLimitPlugin({ maxCost: limits.maxCost, ...reportAs('MAX_COST') }));
    },
  };
}

/** Armor callbacks that report a rejection as a validation error instead of throwing it. */
function reportAs(limit: QueryLimit) {
  return {
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null, error: GraphQLError) => {
        const refusal = queryLimitError(error.message.replace(/^Syntax Error: /, ''), limit, 'GRAPHQL_VALIDATION_FAILED');
        if (!context) throw refusal;
        context.reportError(refusal);
      },
    ],
  };
}

function queryLimitError(message: string, limit: QueryLimit, code: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code, limit, http: { status: 400 } } });
}
