import { Repeater } from 'graphql-yoga';
import type { Caller } from '../auth/caller.js';
import { credentialSourcesOf } from '../credentials/http-credentials.js';
import { RateLimitedError, UnauthenticatedError } from '../errors.js';
import type { Services } from '../services.js';
import { confirmCredential } from './confirm-credential.js';
import type { EndReason, LiveConnection } from './live-connections.js';
import type { SessionEvent } from './session-events.js';
import { streamCut } from './stream-cut.js';
import type { WebSocketSession } from './websocket-session.js';

/**
 * Events a stream holds for a client that does not read them. Beyond this the newest are
 * dropped (and logged) instead of queueing without bound; the client can read `devices`.
 */
export const MAX_UNDELIVERED_SESSION_EVENTS = 100;

/** How long an SSE client over the connection limit is told to wait, in seconds. */
const CONNECTION_LIMIT_RETRY_AFTER_SECONDS = 60;

/**
 * The parts of a resolver's context a stream reads, declared here so that realtime does not
 * depend on the Yoga context module (context.ts depends on realtime).
 */
interface StreamContext {
  readonly services: Pick<Services, 'live' | 'sessionEvents' | 'logger' | 'authenticator'>;
  readonly request: Request;
  readonly caller: Caller;
  /** The connection a WebSocket operation arrived on; undefined for SSE. */
  readonly websocket: WebSocketSession | undefined;
}

/**
 * The caller's session events until the channel ends. Over WebSocket the connection was
 * registered with LiveConnections when it was opened, and ending it closes the socket (with
 * the codes of close-codes.ts). An SSE stream registers itself and ends as endOfStream says:
 * cut when a session's access token expires, else with the UNAUTHENTICATED error that says why
 * (SESSION_REVOKED, USER_NOT_FOUND, TOKEN_EXPIRED for a personal access token). A channel whose own session is revoked is
 * sent that REVOKED event first, and ended when the transport asks for the next one, that is
 * once the event is out.
 *
 * A Repeater rather than an async generator: a generator waiting for the next event cannot
 * run its cleanup when the transport returns it, so every closed stream would keep its
 * listener (and an SSE stream its connection slot) until the user's next event.
 *
 * Generic so that a caller's whole context, of which the stream reads a part, passes as it is.
 */
export function sessionEventStream<Context extends StreamContext>(context: Context): Repeater<SessionEvent> {
  const { caller, services, websocket, request } = context;
  const { live, sessionEvents, logger } = services;
  return new Repeater<SessionEvent>(async (push, stop) => {
    let stopped = false;
    void stop.then(() => (stopped = true));
    const connection: LiveConnection = websocket?.connection ?? { caller, end: (reason) => stop(endOfStream(reason, caller)) };

    let undelivered = 0;
    let dropping = false;
    const stopListening = sessionEvents.listen(caller.userId, (event) => {
      if (undelivered >= MAX_UNDELIVERED_SESSION_EVENTS) {
        if (!dropping) logger.warn({ userId: caller.userId }, 'session event stream not read; dropping events');
        dropping = true;
        return;
      }
      undelivered++;
      // Settles when the transport asks for the next event, that is once this one is out.
      void push(event).then(() => {
        undelivered--;
        dropping = false;
        if (!stopped && event.kind === 'REVOKED' && caller.kind === 'session' && event.sessionId === caller.sessionId) {
          live.endRevoked(connection);
        }
      });
    });

    try {
      if (!websocket) {
        if (!live.add(connection)) {
          stop(new RateLimitedError(CONNECTION_LIMIT_RETRY_AFTER_SECONDS, 'Too many connections for this account'));
        } else {
          try {
            await confirmCredential(services.authenticator, credentialSourcesOf(request), caller);
          } catch (error) {
            stop(error);
          }
        }
      }
      await stop;
    } finally {
      stopListening();
      if (!websocket) live.remove(connection);
    }
  });
}

/**
 * What ends an SSE stream. graphql-sse's client (2.x) reconnects after a network error only,
 * calling its async `headers` again; an error result followed by `complete` ends the
 * subscription for good. So an expired session token cuts the stream (the client reconnects
 * with a fresh token), and everything a reconnection cannot cure ends it with its reason.
 */
function endOfStream(reason: EndReason, caller: Caller): Error {
  if (reason === 'TOKEN_EXPIRED' && caller.kind === 'session') return streamCut('Token expired');
  return new UnauthenticatedError(reason);
}
