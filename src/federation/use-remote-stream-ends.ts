import { Kind, type OperationDefinitionNode, getOperationAST } from 'graphql';
import { isAsyncIterable, type Plugin, Repeater } from 'graphql-yoga';
import type { Caller } from '../auth/caller.js';
import { RateLimitedError, UnauthenticatedError } from '../errors.js';
import type { EndReason, LiveConnection, LiveConnections } from '../realtime/live-connections.js';
import { streamCut } from '../realtime/stream-cut.js';

/** How long an SSE client over the connection limit is told to wait, in seconds (as for sessionEvents). */
const CONNECTION_LIMIT_RETRY_AFTER_SECONDS = 60;

export interface RemoteStreamEndsOptions {
  readonly live: LiveConnections;
  /** The root Subscription fields the gateway serves itself; their streams register on their own. */
  readonly localFields: ReadonlySet<string>;
}

/**
 * A subgraph's subscription over SSE, ended like the gateway's own: registered with
 * LiveConnections for its caller, so that expiry, revocation and account deletion end it (the
 * upstream stream to the subgraph is returned, which closes it). Over WebSocket nothing is
 * needed: the connection is registered when it opens and ending it ends every operation on it.
 */
export function useRemoteStreamEnds({ live, localFields }: RemoteStreamEndsOptions): Plugin<{ caller?: Caller | null; websocket?: unknown }> {
  return {
    onSubscribe({ args }) {
      const { caller, websocket } = args.contextValue;
      if (!caller || websocket) return;
      const operation = getOperationAST(args.document, args.operationName);
      if (!operation || rootFields(operation).every((name) => localFields.has(name))) return;
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          setResult(endedLikeLocalStreams(result, caller, live));
        },
      };
    },
  };
}

function rootFields(operation: OperationDefinitionNode): string[] {
  return operation.selectionSet.selections.flatMap((selection) => (selection.kind === Kind.FIELD ? [selection.name.value] : []));
}

function endedLikeLocalStreams<T>(source: AsyncIterable<T>, caller: Caller, live: LiveConnections): Repeater<T> {
  return new Repeater<T>(async (push, stop) => {
    const connection: LiveConnection = { caller, end: (reason) => stop(endOfStream(reason, caller)) };
    if (!live.add(connection)) {
      stop(new RateLimitedError(CONNECTION_LIMIT_RETRY_AFTER_SECONDS, 'Too many connections for this account'));
      return;
    }
    const iterator = source[Symbol.asyncIterator]();
    void stop.then(() => iterator.return?.());
    try {
      for (let next = await Promise.race([iterator.next(), stop]); next && !next.done; next = await Promise.race([iterator.next(), stop])) {
        await push(next.value);
      }
      stop();
    } catch (error) {
      stop(error);
    } finally {
      live.remove(connection);
    }
  });
}

/** As a sessionEvents stream ends (session-event-stream.ts): cut on an expired session token, so that the client reconnects; else the reason. */
function endOfStream(reason: EndReason, caller: Caller): Error {
  if (reason === 'TOKEN_EXPIRED' && caller.kind === 'session') return streamCut('Token expired');
  return new UnauthenticatedError(reason);
}
