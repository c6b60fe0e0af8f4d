/**
 * The ceiling: graphql-yoga with nothing on it (the gateway's Yoga version, node:http, the same
 * machine), answering `{ __typename }`. Whatever the gateway adds costs relative to this.
 * With BARE_YOGA_BODY_STREAM=off, the same without Yoga's default request-body stream.
 * Prints `{"ready":true,"port":N}` once listening on a loopback port the OS picked.
 */
import { createSchema, createYoga } from 'graphql-yoga';
import { serveOnLoopback } from '../lib/serve-on-loopback.js';

const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
  graphiql: false,
  landingPage: false,
  // BARE_YOGA_BODY_STREAM=off: without the counting stream Yoga puts every request body through
  // by default (maxRequestBodySize, 25 MB), which the gateway replaces with its own check.
  ...(process.env.BARE_YOGA_BODY_STREAM === 'off' ? { maxRequestBodySize: false } : {}),
});
serveOnLoopback(yoga);
