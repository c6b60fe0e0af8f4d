import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { redactUrl } from '../logger.js';

/** One log line per HTTP request: method, path (token parameter redacted), status, duration. */
export function useRequestLog(logger: Logger, now: () => number = () => performance.now()): Plugin {
  const started = new WeakMap<Request, number>();
  return {
    // Below info (LOG_LEVEL=warn) nothing is written, so nothing is measured or formatted.
    onRequest({ request }) {
      if (logger.isLevelEnabled('info')) started.set(request, now());
    },
    onResponse({ request, response }) {
      if (!logger.isLevelEnabled('info')) return;
      const start = started.get(request);
      logger.info(
        {
          method: request.method,
          url: redactUrl(new URL(request.url)),
          status: response.status,
          ms: start === undefined ? undefined : Math.round((now() - start) * 10) / 10,
        },
        'request',
      );
    },
  };
}
