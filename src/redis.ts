import { Redis } from 'ioredis';
import type { Logger } from 'pino';

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
  /** Commands (rate limits, publishes). Fails fast while Redis is down instead of queueing. */
  readonly commands: Redis;
  /** Subscriptions; resubscribes by itself when Redis comes back. */
  readonly subscriber: Redis;
  close(): Promise<void>;
}

/**
 * Opens the gateway's Redis connections. Both reconnect forever with a capped back-off; while
 * Redis is down the command connection rejects at once, so rate limits fall back to their
 * in-memory insurance and revocations to database polling instead of hanging requests.
 */
export function connectRedis(url: string, logger: Logger): RedisConnections {
  const common = {
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
  };
  const commands = new Redis(url, { ...common, enableOfflineQueue: false });
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
  return {
    commands,
    subscriber,
    async close() {
      commands.disconnect();
      subscriber.disconnect();
    },
  };
}
