import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Revocation } from './revocation.js';
import type { RevocationChannel } from './revocation-channel.js';

export interface RedisRevocationChannelOptions {
  /** The connection that publishes. */
  readonly commands: Redis;
  /** A connection in subscriber mode (it may carry other subscriptions too). */
  readonly subscriber: Redis;
  /** The Redis channel's name; instances that share it share their revocations. */
  readonly channel: string;
  readonly logger: Logger;
}

/**
 * What travels on the channel: a revocation, or the kid of a revoked signing key, and who sent
 * it, so an instance skips its own.
 */
type Envelope = { readonly from: string; readonly revocation: Revocation } | { readonly from: string; readonly signingKeyRevoked: string };

/**
 * Revocations between gateway instances over Redis pub/sub. Pub/sub delivers only to those
 * listening at the moment of publishing, so an instance that was cut off (or stalled: see the
 * health check in src/redis.ts) misses what was said meanwhile; it reports the outage through
 * onConnectivityChange, and Revocations reads the database once more on reconnecting, besides
 * its periodic reads.
 */
export class RedisRevocationChannel implements RevocationChannel {
  readonly #options: RedisRevocationChannelOptions;
  readonly #instanceId = randomUUID();

  constructor(options: RedisRevocationChannelOptions) {
    this.#options = Object.freeze({ ...options });
  }

  async publish(revocation: Revocation): Promise<void> {
    const envelope: Envelope = { from: this.#instanceId, revocation };
    await this.#options.commands.publish(this.#options.channel, JSON.stringify(envelope));
  }

  subscribe(listener: (revocation: Revocation) => void): () => void {
    const { subscriber, channel, logger } = this.#options;
    const onMessage = (from: string, message: string) => {
      if (from !== channel) return;
      const envelope = parseEnvelope(message);
      if (envelope === undefined) {
        logger.warn({ channel }, 'malformed revocation message ignored');
        return;
      }
      if (envelope.from !== this.#instanceId && 'revocation' in envelope) listener(envelope.revocation);
    };
    subscriber.on('message', onMessage);
    // Rejects only when the connection is closed for good; ioredis resubscribes after reconnects.
    subscriber.subscribe(channel).catch((error: Error) => logger.warn({ err: { message: error.message } }, 'revocation channel subscribe failed'));
    return () => {
      subscriber.off('message', onMessage);
      subscriber.unsubscribe(channel).catch(() => {});
    };
  }

  async publishSigningKeyRevocation(kid: string): Promise<void> {
    const envelope: Envelope = { from: this.#instanceId, signingKeyRevoked: kid };
    await this.#options.commands.publish(this.#options.channel, JSON.stringify(envelope));
  }

  /** Hears revoked kids on the channel subscribe() subscribed (it reports malformed messages). */
  subscribeSigningKeyRevocations(listener: (kid: string) => void): () => void {
    const { subscriber, channel, logger } = this.#options;
    const onMessage = (from: string, message: string) => {
      if (from !== channel) return;
      const envelope = parseEnvelope(message);
      if (envelope !== undefined && envelope.from !== this.#instanceId && 'signingKeyRevoked' in envelope) listener(envelope.signingKeyRevoked);
    };
    subscriber.on('message', onMessage);
    // Idempotent; leaving the channel is subscribe()'s, whose listener shares it.
    subscriber.subscribe(channel).catch((error: Error) => logger.warn({ err: { message: error.message } }, 'revocation channel subscribe failed'));
    return () => subscriber.off('message', onMessage);
  }

  /**
   * Reports when the subscriber connection is lost (false) and when it is subscribed again
   * (true). "Again" waits for the re-subscription itself: messages published between the
   * reconnect and the SUBSCRIBE would otherwise fall into the gap unseen.
   */
  onConnectivityChange(listener: (connected: boolean) => void): () => void {
    const { subscriber, channel } = this.#options;
    // Not known to be down: a start while Redis is unreachable reports false at the first failed connect.
    let connected = true;
    const onDown = () => {
      if (!connected) return;
      connected = false;
      listener(false);
    };
    const onReady = () => {
      subscriber.subscribe(channel).then(
        () => {
          if (connected) return;
          connected = true;
          listener(true);
        },
        () => {},
      );
    };
    subscriber.on('close', onDown);
    subscriber.on('ready', onReady);
    return () => {
      subscriber.off('close', onDown);
      subscriber.off('ready', onReady);
    };
  }
}

function parseEnvelope(message: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { from, revocation, signingKeyRevoked } = value as { from?: unknown; revocation?: Partial<Revocation> | null; signingKeyRevoked?: unknown };
  if (typeof from !== 'string') return undefined;
  if (revocation === undefined && typeof signingKeyRevoked === 'string') return { from, signingKeyRevoked };
  if (typeof revocation !== 'object' || revocation === null) return undefined;
  const { userId, sessionIds, tokenIds, userDeleted, revokedBefore, exceptSessionId, userChanged } = revocation;
  if (typeof userId !== 'string') return undefined;
  if (!isStringList(sessionIds) || !isStringList(tokenIds)) return undefined;
  if (userDeleted !== undefined && typeof userDeleted !== 'boolean') return undefined;
  if (userChanged !== undefined && typeof userChanged !== 'boolean') return undefined;
  if (revokedBefore !== undefined && !Number.isFinite(revokedBefore)) return undefined;
  if (exceptSessionId !== undefined && typeof exceptSessionId !== 'string') return undefined;
  return { from, revocation: { userId, sessionIds, tokenIds, userDeleted, revokedBefore, exceptSessionId, userChanged } };
}

function isStringList(value: unknown): value is readonly string[] | undefined {
  return value === undefined || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
}
