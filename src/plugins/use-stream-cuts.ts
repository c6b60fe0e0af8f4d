import { GraphQLError } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import { isStreamCut } from '../realtime/stream-cut.js';

/**
 * Ends an SSE response as a dropped connection would when its subscription's source throws a
 * stream cut (stream-cut.ts): the body ends without the `complete` event, which graphql-sse's
 * client reads as a network error and reconnects from, where an error result and `complete`
 * end its subscription for good.
 *
 * Two steps. The executor wraps every error of a source stream into a GraphQLError
 * (`wrapError` in @graphql-tools/executor), which Yoga would answer with an error result:
 * the cut is unwrapped, and Yoga passes it on to its SSE response, which errors. An errored
 * body would leave the HTTP response open for good (the Node adapter never ends it), so the
 * SSE body is read through a stream that ends instead.
 */
export function useStreamCuts(): Plugin {
  return {
    onSubscribe: () => ({
      onSubscribeResult: ({ result, setResult }) => {
        if (!isAsyncIterable(result)) return;
        setResult(
          mapAsyncIterator(
            result,
            (value) => value,
            (error: unknown) => {
              throw error instanceof GraphQLError && isStreamCut(error.originalError) ? error.originalError : error;
            },
          ),
        );
      },
    }),
    onResponse: ({ response, setResponse, fetchAPI }) => {
      // The content type first: reading `body` makes a stream of any response.
      if (!response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body) return;
      const reader = response.body.getReader();
      const body = new fetchAPI.ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) controller.close();
            else controller.enqueue(value);
          } catch {
            // Only a cut gets here: Yoga answers every other error with an error result.
            controller.close();
          }
        },
        cancel: (reason) => reader.cancel(reason),
      });
      setResponse(new fetchAPI.Response(body, { status: response.status, statusText: response.statusText, headers: response.headers }));
    },
  };
}
