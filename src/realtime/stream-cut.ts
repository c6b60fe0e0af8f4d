/**
 * An error that ends an SSE stream as a dropped connection would: without the `complete`
 * event. Yoga lets an AbortError DOMException through where it masks or answers every other
 * error (its `isAbortError`, which checks the constructor's name: no subclass will do), and
 * its SSE response then errors, which ends the HTTP response. useStreamCuts unwraps it from
 * the executor's GraphQLError on the way.
 */
export function streamCut(message: string): DOMException {
  return new DOMException(message, 'AbortError');
}

/** True for an error made by streamCut (or any other abort). */
export function isStreamCut(error: unknown): error is DOMException {
  return error instanceof DOMException && error.name === 'AbortError';
}
