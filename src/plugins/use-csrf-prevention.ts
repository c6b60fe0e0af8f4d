import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';

/**
 * Headers any one of which marks a request as sent by script: setting one forces a CORS
 * preflight, which a cross-site page cannot pass. `apollo-require-preflight` and
 * `x-apollo-operation-name` are what Apollo clients already send.
 */
export const CSRF_HEADERS = ['x-graphql-csrf', 'apollo-require-preflight', 'x-apollo-operation-name'] as const;

/**
 * Yoga's CSRF prevention for POSTs: one a browser sends without a preflight (a `text/plain`,
 * `application/x-www-form-urlencoded` or `multipart/form-data` body, or none declared) is
 * refused with 403 unless it carries one of CSRF_HEADERS, so a form or a "simple" fetch from
 * another site cannot ride the cookies. A JSON POST is preflighted by browsers and passes.
 *
 * GET is left alone: it cannot carry a mutation (Yoga answers 405), so it changes nothing, and
 * EventSource clients cannot add headers to their GET subscriptions.
 */
export function useCsrfPrevention(): Plugin {
  const csrf = useCSRFPrevention({ requestHeaders: [...CSRF_HEADERS] });
  return {
    onRequestParse(payload) {
      if (payload.request.method === 'GET') return;
      try {
        csrf.onRequestParse?.(payload);
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        throw new GraphQLError(`A request without a JSON body must carry one of these headers: ${CSRF_HEADERS.join(', ')}`, {
          extensions: { code: 'BAD_REQUEST', reason: 'CSRF_HEADER_MISSING', http: { status: 403 } },
        });
      }
    },
  };
}
