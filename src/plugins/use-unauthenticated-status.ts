import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';

/**
 * HTTP 401 (with its WWW-Authenticate challenge) for a result that is nothing but
 * UNAUTHENTICATED errors, and only then. Every UnauthenticatedError carries the 401 in
 * extensions.http, and Yoga answers with the highest status any error asks for; a result with
 * data, or with another error beside the refusal, would then be answered 401 too, and clients
 * that treat 401 as "sign in again" would throw away what did succeed. Such results keep the
 * status of their other errors (200 when there is none). Data that is only nulls (a refused
 * nullable field) is no success.
 */
export function useUnauthenticatedStatus(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      // Streams (SSE) have answered 200 before their first event; batches are answered 200 whole.
      if (result === undefined || isAsyncIterable(result) || Array.isArray(result)) return;
      const errors = result.errors;
      if (!errors?.some(isUnauthenticated)) return;
      if (!holdsValue(result.data) && errors.every(isUnauthenticated)) return;
      setResult({ ...result, errors: errors.map((error) => (isUnauthenticated(error) ? withoutHttp(error) : error)) });
    },
  };
}

/** True when a result's data holds anything but the nulls its errors left. */
function holdsValue(data: unknown): boolean {
  if (data === null || data === undefined) return false;
  if (Array.isArray(data)) return data.some(holdsValue);
  if (typeof data === 'object') return Object.values(data).some(holdsValue);
  return true;
}

function isUnauthenticated(error: GraphQLError): boolean {
  return error.extensions?.code === 'UNAUTHENTICATED';
}

/** The same error without the status and challenge it would impose on the whole response. */
function withoutHttp(error: GraphQLError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}
