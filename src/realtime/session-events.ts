import { createPubSub, SlidingBuffer, type PubSub, type PubSubEventTarget, type Repeater } from 'graphql-yoga';
import type { Logger } from 'pino';

export type SessionEventKind = 'SIGNED_IN' | 'REVOKED';

/** One event about a session of an account; plain data, so it can cross instances as JSON. */
export interface SessionEvent {
  readonly kind: SessionEventKind;
  readonly sessionId: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

const TOPIC = 'session-events';

/**
 * Events of one user that may arrive faster than this instance hands them on, as when
 * logoutAll revokes many sessions at once. Beyond this the oldest are dropped: an unbuffered
 * repeater would instead throw past 1024, inside the event target's listener.
 */
export const USER_FEED_BUFFER_EVENTS = 4096;

/** One topic, named `${topicPrefix}session-events`; Yoga adds `:${userId}` to it. */
export type SessionEventTopics = Record<string, [userId: string, event: SessionEvent]>;

export type SessionEventListener = (event: SessionEvent) => void;

export interface SessionEventsOptions {
  readonly logger: Logger;
  /** Where events travel: this process by default; a shared target (Redis) spans instances. */
  readonly eventTarget?: PubSubEventTarget<SessionEventTopics>;
  /** Set before the topic's name: the deployment's REDIS_KEY_PREFIX when the target is shared. */
  readonly topicPrefix?: string;
}

interface UserFeed {
  /** The user's one subscription to Yoga's pubsub on this instance. */
  readonly source: Repeater<SessionEvent>;
  readonly listeners: Set<SessionEventListener>;
}

/**
 * sessionEvents, published and subscribed through Yoga's pubsub (one topic per user), so that a
 * shared event target carries them between instances.
 *
 * This instance subscribes to a user's topic once, however many streams of that user are open
 * (up to MAX_CONNECTIONS_PER_USER connections of up to 50 subscriptions each), and fans each
 * event out to them. One pubsub subscription per stream would put a thousand listeners of one
 * type on the event target, read by Node as a listener leak, and give every stream a queue
 * that a client that stops reading fills without bound.
 */
export class SessionEvents {
  readonly #pubsub: PubSub<SessionEventTopics>;
  readonly #eventTarget: PubSubEventTarget<SessionEventTopics>;
  readonly #logger: Logger;
  readonly #topic: string;
  readonly #feeds = new Map<string, UserFeed>();

  constructor({ logger, eventTarget = new EventTarget() as PubSubEventTarget<SessionEventTopics>, topicPrefix = '' }: SessionEventsOptions) {
    this.#logger = logger;
    this.#topic = `${topicPrefix}${TOPIC}`;
    this.#eventTarget = eventTarget;
    this.#pubsub = createPubSub<SessionEventTopics>({ eventTarget });
  }

  publish(userId: string, event: SessionEvent): void {
    this.#pubsub.publish(this.#topic, userId, event);
  }

  /**
   * Calls the listener, synchronously, with every event of the user from now on. Returns the
   * function that stops it; the user's pubsub subscription ends with its last listener.
   */
  listen(userId: string, listener: SessionEventListener): () => void {
    const feed = this.#feeds.get(userId) ?? this.#open(userId);
    feed.listeners.add(listener);
    return () => {
      feed.listeners.delete(listener);
      if (feed.listeners.size > 0 || this.#feeds.get(userId) !== feed) return;
      this.#feeds.delete(userId);
      void feed.source.return(undefined);
    };
  }

  /** How many listeners this instance holds for a user, or for everyone. */
  listenerCount(userId?: string): number {
    if (userId !== undefined) return this.#feeds.get(userId)?.listeners.size ?? 0;
    let total = 0;
    for (const feed of this.#feeds.values()) total += feed.listeners.size;
    return total;
  }

  /** Ends every pubsub subscription; listeners hear nothing more. */
  close(): void {
    for (const feed of this.#feeds.values()) {
      feed.listeners.clear();
      void feed.source.return(undefined);
    }
    this.#feeds.clear();
  }

  #open(userId: string): UserFeed {
    // Subscribed synchronously: the first next() starts the pubsub's repeater, which adds its
    // event listener before this returns, so nothing published afterwards is missed.
    // A pubsub of its own over the same event target, for a buffer of its own: Yoga applies
    // repeaterBuffer to every subscription of a pubsub, and a buffer must not be shared.
    const pubsub = createPubSub<SessionEventTopics>({ eventTarget: this.#eventTarget, repeaterBuffer: new SlidingBuffer(USER_FEED_BUFFER_EVENTS) });
    const feed: UserFeed = { source: pubsub.subscribe(this.#topic, userId), listeners: new Set() };
    this.#feeds.set(userId, feed);
    void this.#pump(feed);
    return feed;
  }

  async #pump(feed: UserFeed): Promise<void> {
    for await (const event of feed.source) {
      for (const listener of [...feed.listeners]) {
        try {
          listener(event);
        } catch (error) {
          this.#logger.error({ err: error }, 'session event listener failed');
        }
      }
    }
  }
}
