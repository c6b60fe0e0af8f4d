import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Requests to the GraphQL endpoint larger than this are refused with 413 (see server.ts). */
export const MAX_REQUEST_BODY_BYTES = 100 * 1024;
/** An Authorization header longer than this is refused with 431 before anything verifies it. */
export const MAX_AUTHORIZATION_HEADER_BYTES = 8 * 1024;

/**
 * Refuses an oversized Authorization header (HTTP 431, BAD_REQUEST with reason
 * AUTHORIZATION_HEADER_TOO_LARGE) before the request is parsed and the credential verified: no
 * access token or personal access token comes close, and a huge one would only cost
 * verification work. (The body limit is useRequestBodyLimit.)
 */
export function useRequestLimits({ maxAuthorizationBytes = MAX_AUTHORIZATION_HEADER_BYTES } = {}): Plugin {
  return {
    onRequestParse({ request }) {
      const authorization = request.headers.get('authorization');
      if (authorization !== null && Buffer.byteLength(authorization, 'utf8') > maxAuthorizationBytes) {
        throw new GraphQLError(`The Authorization header is larger than ${maxAuthorizationBytes} bytes`, {
          extensions: { code: 'BAD_REQUEST', reason: 'AUTHORIZATION_HEADER_TOO_LARGE', http: { status: 431 } },
        });
      }
    },
  };
}
