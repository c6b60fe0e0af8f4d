import type { IncomingMessage } from 'node:http';
import { CloseCode, type Server as GraphqlWsServer } from 'graphql-ws';
import type { Logger } from 'pino';
import { WebSocket, type WebSocketServer } from 'ws';
import { gcraTake, gcraTiming } from '../abuse/token-bucket.js';
import { type Clock, systemClock } from '../clock.js';

/** What graphql-ws hands the server's hooks as `ctx.extra` for every connection. */
export interface WebSocketExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

export interface WebSocketTransportOptions {
  readonly logger: Logger;
  /** Interval of the ping that detects dead peers; a peer silent for as long is dropped. */
  readonly keepAliveMs?: number;
  /** How long close() waits for peers to answer the closing handshake before dropping them. */
  readonly closeGraceMs?: number;
  /** Messages a connection may send per second, sustained (the refill rate of its token bucket). */
  readonly messagesPerSecond?: number;
  /** Messages a connection may send at once (the size of its token bucket). */
  readonly messageBurst?: number;
  /** The clock the message buckets refill by. */
  readonly clock?: Clock;
}

/** graphql-ws's own ws adapter pings every 12 s; so do we. */
export const DEFAULT_KEEP_ALIVE_MS = 12_000;
export const DEFAULT_CLOSE_GRACE_MS = 1_000;
/**
 * A client subscribes a few times and pings now and then; 100 a second with bursts of 200 is
 * far beyond that, and far below the thousands a second that stall the event loop.
 */
export const DEFAULT_MESSAGES_PER_SECOND = 100;
export const DEFAULT_MESSAGE_BURST = 200;
/** Close code for a connection over its message rate: 1008, policy violation (RFC 6455 §7.4.1). */
export const TOO_MANY_MESSAGES = 1008;

export interface WebSocketTransport {
  /** Closes every connection (1001), waits for their hooks to finish, and stops the ws server. */
  close(): Promise<void>;
}

/**
 * Runs a graphql-ws protocol server on a ws server. graphql-ws ships a ready adapter
 * (graphql-ws/use/ws) and asks for an own one when it does not fit; it does not here: its
 * adapter reports socket errors on stderr through console.error, including the routine ones
 * a client causes (a message over the size limit), and its dispose waits for every peer to
 * finish the closing handshake, however long a dead one takes. This one logs through the
 * gateway's logger, drops unresponsive peers on close, closes a connection sending more
 * messages than its bucket allows (1008: thousands of subscribe messages would otherwise hold
 * the event loop for as long as they take to handle), and otherwise does what graphql-ws's
 * does: keep-alive pings, messages to the protocol server, close events back to it.
 */
export function serveGraphqlWs(protocol: GraphqlWsServer<WebSocketExtra>, sockets: WebSocketServer, options: WebSocketTransportOptions): WebSocketTransport {
  const {
    logger,
    keepAliveMs = DEFAULT_KEEP_ALIVE_MS,
    closeGraceMs = DEFAULT_CLOSE_GRACE_MS,
    messagesPerSecond = DEFAULT_MESSAGES_PER_SECOND,
    messageBurst = DEFAULT_MESSAGE_BURST,
    clock = systemClock,
  } = options;
  const messageTiming = gcraTiming({ keyPrefix: 'websocket-messages', ratePerSecond: messagesPerSecond, burst: messageBurst });
  /** The protocol server's close handlers still running: returning subscriptions, releasing slots. */
  const closing = new Set<Promise<void>>();

  sockets.on('error', (error) => logger.error({ err: error }, 'websocket server error'));

  sockets.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // ws has already started closing the connection with the matching status (1009 for a
    // message over maxPayload, 1002 or 1007 for protocol violations) when it emits this: the
    // peer broke the rules, so this is a record, not a fault of ours.
    socket.on('error', (error: Error & { code?: string }) => {
      logger.info({ code: error.code, message: error.message }, 'websocket connection closed for a protocol violation');
      if (socket.readyState === WebSocket.OPEN) socket.terminate();
    });

    let pongDeadline: NodeJS.Timeout | undefined;
    const pinger = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN || pongDeadline) return;
      pongDeadline = setTimeout(() => socket.terminate(), keepAliveMs);
      socket.ping();
    }, keepAliveMs);
    socket.on('pong', () => {
      clearTimeout(pongDeadline);
      pongDeadline = undefined;
    });

    // The connection's message bucket (GCRA, see token-bucket.ts), taken from before a message
    // is even decoded: past it, the connection is closed and the rest of its messages ignored.
    let messageTat: number | undefined;
    let overMessageRate = false;
    const takeMessage = (): boolean => {
      if (overMessageRate) return false;
      const taken = gcraTake(messageTat, Math.floor(clock.now()), messageTiming);
      if ('tat' in taken) {
        messageTat = taken.tat;
        return true;
      }
      overMessageRate = true;
      logger.info({ messagesPerSecond, messageBurst }, 'websocket connection closed for sending too many messages');
      socket.close(TOO_MANY_MESSAGES, 'Too many messages');
      return false;
    };

    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== WebSocket.OPEN) return resolve();
            // A send cut short by the socket closing is no error: the close handler takes over.
            socket.send(data, (error) => (error && socket.readyState === WebSocket.OPEN ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data: Buffer) => {
            if (!takeMessage()) return;
            handle(data.toString('utf8')).catch((error: unknown) => {
              logger.error({ err: error }, 'websocket message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request },
    );

    socket.once('close', (code: number, reason: Buffer) => {
      clearInterval(pinger);
      clearTimeout(pongDeadline);
      const done = closed(code, reason.toString('utf8'))
        .catch((error: unknown) => logger.error({ err: error }, 'websocket close handling failed'))
        .finally(() => closing.delete(done));
      closing.add(done);
    });
  });

  return {
    async close() {
      for (const socket of sockets.clients) socket.close(1001, 'Going away');
      const allClosed = new Promise<void>((resolve) => sockets.close(() => resolve()));
      let grace: NodeJS.Timeout | undefined;
      const graceOver = new Promise<void>((resolve) => (grace = setTimeout(resolve, closeGraceMs)));
      await Promise.race([allClosed, graceOver]);
      clearTimeout(grace);
      for (const socket of sockets.clients) socket.terminate();
      await allClosed;
      await Promise.all(closing);
    },
  };
}
