import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS, DEFAULT_REDIS_HEALTH_CHECK_INTERVAL_MS } from './config.js';

/**
 * A publisher for Yoga's Redis event target that never rejects: the event target does not
 * handle a failed publish, and an event that cannot reach Redis is lost either way.
 */
export function safePublisher(redis: Redis, logger: Logger): Redis {
  const publisher: Pick<Redis, 'publish'> = {
    publish: ((channel: string, message: string) =>
      redis.publish(channel, message).catch((error: Error) => {
        logger.warn({ err: { message: error.message }, channel }, 'redis publish failed; event dropped');
        return 0;
      })) as Redis['publish'],
  };
  return publisher as Redis;
}

/**
 * The subscriber connection as Yoga's Redis event target should see it: its (un)subscribe
 * calls never reject. The event target ignores their promises, so a rejection (the connection
 * closed at shutdown while a stream was ending) would go unhandled; ioredis resubscribes by
 * itself after a reconnect, so there is nothing to do with one but note it.
 */
export function safeSubscriber(redis: Redis, logger: Logger): Redis {
  const quietly = (operation: string) => (error: Error) => {
    logger.debug({ err: { message: error.message } }, `redis ${operation} failed`);
    return 0;
  };
  const subscriber: Pick<Redis, 'on' | 'off' | 'subscribe' | 'unsubscribe'> = {
    on: ((event: string, listener: (...args: unknown[]) => void) => redis.on(event, listener)) as Redis['on'],
    off: ((event: string, listener: (...args: unknown[]) => void) => redis.off(event, listener)) as Redis['off'],
    subscribe: ((...channels: string[]) => redis.subscribe(...channels).catch(quietly('subscribe'))) as Redis['subscribe'],
    unsubscribe: ((...channels: string[]) => redis.unsubscribe(...channels).catch(quietly('unsubscribe'))) as Redis['unsubscribe'],
  };
  return subscriber as Redis;
}

/** The Redis connections one gateway instance holds. */
export interface RedisConnections {
  /**
   * Commands (rate limits, publishes). Fails fast while Redis is down instead of queueing, and
   * gives up on a command after the command timeout while Redis stalls.
   */
  readonly commands: Redis;
  /** Subscriptions; resubscribes by itself when Redis comes back, reconnects when a health check finds it stalled. */
  readonly subscriber: Redis;
  close(): Promise<void>;
}

export interface RedisConnectionOptions {
  /** How long a command may take; past it the command rejects and the caller goes on without Redis. */
  readonly commandTimeoutMs: number;
  /** How often the subscriber connection is PINGed (answered within commandTimeoutMs, or reconnected). */
  readonly healthCheckIntervalMs: number;
}

/** Probes sent on the first TCP keep-alive after this long idle: a peer that vanished is noticed by the OS. */
const KEEP_ALIVE_INITIAL_DELAY_MS = 10_000;

/**
 * Opens the gateway's Redis connections. Both reconnect forever with a capped back-off; while
 * Redis is down the command connection rejects at once, and while it stalls (connected, but not
 * answering) every command rejects after the command timeout, so that rate limits fall back to
 * their in-memory insurance and publishes are given up instead of hanging requests.
 *
 * A stalled subscriber connection rejects nothing, it just stops delivering: a PING every
 * health-check interval, unanswered within the command timeout, destroys its socket, which
 * ioredis (and the revocation channel) see as a lost connection. Reconnecting then resubscribes.
 */
export function connectRedis(
  url: string,
  logger: Logger,
  { commandTimeoutMs = DEFAULT_REDIS_COMMAND_TIMEOUT_MS, healthCheckIntervalMs = DEFAULT_REDIS_HEALTH_CHECK_INTERVAL_MS }: Partial<RedisConnectionOptions> = {},
): RedisConnections {
  const common = {
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    keepAlive: KEEP_ALIVE_INITIAL_DELAY_MS,
  };
  const commands = new Redis(url, { ...common, enableOfflineQueue: false, commandTimeout: commandTimeoutMs });
  // (Un)subscribe commands wait for the connection however long it is down, never rejecting.
  const subscriber = new Redis(url, { ...common, autoResubscribe: true, maxRetriesPerRequest: null });
  let down = false;
  for (const connection of [commands, subscriber]) {
    // ioredis reports every failed reconnect; log the transitions, not each attempt.
    connection.on('error', (error: Error) => {
      if (!down) logger.warn({ err: { message: error.message } }, 'redis unavailable');
      down = true;
    });
    connection.on('ready', () => {
      if (down) logger.info('redis available again');
      down = false;
    });
  }
  const checkSubscriber = subscriberHealthCheck(subscriber, commandTimeoutMs, logger);
  const healthCheck = setInterval(() => void checkSubscriber(), healthCheckIntervalMs);
  healthCheck.unref();
  return {
    commands,
    subscriber,
    async close() {
      clearInterval(healthCheck);
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}

/**
 * A check of the subscriber connection, run every health-check interval: a ready connection is
 * PINGed (PING is allowed in subscriber mode) and its socket dropped when no answer comes within
 * the timeout; a connection still not ready at the next check after its socket opened (a Redis
 * that accepts connections and then stalls keeps it "connecting" forever) is dropped too.
 */
function subscriberHealthCheck(subscriber: Redis, timeoutMs: number, logger: Logger): () => Promise<void> {
  let connectingStream: unknown;
  const drop = (stream: Redis['stream']) => {
    logger.warn('redis subscriber connection stalled; reconnecting');
    stream.destroy();
  };
  return async () => {
    const stream = subscriber.stream;
    if (subscriber.status === 'connect') {
      if (connectingStream === stream) drop(stream);
      connectingStream = stream;
      return;
    }
    connectingStream = undefined;
    if (subscriber.status !== 'ready') return;
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      subscriber.ping().then(
        () => true,
        () => true, // rejected: the connection is already being replaced
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!answered && subscriber.stream === stream) drop(stream);
  };
}
