import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Refuses a request whose declared Content-Length exceeds the limit (413), as Yoga's
 * maxRequestBodySize does for the plain gateway: Hive Gateway's runtime has no such option.
 * A chunked body without a length is not counted here.
 */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequestParse({ request }) {
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > maxBytes) {
        throw new GraphQLError(`Request body is larger than ${maxBytes} bytes`, { extensions: { code: 'BAD_REQUEST', http: { status: 413 } } });
      }
    },
  };
}
