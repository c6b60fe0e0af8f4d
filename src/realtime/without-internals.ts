import type { ExecutionResult, FormattedExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';

/**
 * An error as a client receives it, without the extensions meant for the transport: `http`
 * (the status and headers Yoga answers HTTP with) and `unexpected` (Yoga's masking marker).
 * Yoga leaves them out of HTTP and SSE answers; graphql-ws would send them as they are.
 */
export function withoutInternalsInError(error: GraphQLError): GraphQLFormattedError {
  const formatted = error.toJSON();
  if (formatted.extensions === undefined) return formatted;
  const { http: _http, unexpected: _unexpected, ...extensions } = formatted.extensions;
  const { extensions: _all, ...rest } = formatted;
  return Object.keys(extensions).length > 0 ? { ...rest, extensions } : rest;
}

/** withoutInternalsInError for each error. */
export function withoutInternalsInErrors(errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map(withoutInternalsInError);
}

/** An execution result as a client receives it (withoutInternalsInError for each error, no `http` extension). */
export function withoutInternals(result: ExecutionResult): FormattedExecutionResult {
  const { errors, extensions, ...rest } = result;
  const formatted: FormattedExecutionResult = { ...rest };
  if (errors !== undefined) formatted.errors = withoutInternalsInErrors(errors);
  if (extensions !== undefined) {
    const { http: _http, ...others } = extensions;
    if (Object.keys(others).length > 0) formatted.extensions = others;
  }
  return formatted;
}
