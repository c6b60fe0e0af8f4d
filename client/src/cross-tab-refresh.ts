import type { TabChannel, TabMessage } from './tab-channel.js';
import type { LockManagerLike } from './types.js';

/** How long a tab that got the refresh lock waits for the previous holder's outcome, should that tab have died. */
export const HAND_OVER_WAIT_MS = 5_000;

/**
 * One refresh at a time across the tabs of a browser: the Web Locks API's exclusive lock, and
 * the hand-over of its holder's outcome. The holder says it is refreshing when it starts and
 * how that ended before it lets go (the new session, a sign-out, or `refresh-ended`); the next
 * holder waits for that outcome to arrive, since the lock can be granted before the message is
 * delivered, and then finds the session already refreshed. Without a lock manager, the work
 * runs at once.
 */
export class CrossTabRefresh {
  readonly #locks: LockManagerLike | null;
  readonly #name: string;
  readonly #channel: TabChannel;
  readonly #waiters = new Set<() => void>();
  /** Another tab said it is refreshing and has not said how that ended. */
  #otherTabRefreshing = false;

  constructor(locks: LockManagerLike | null, name: string, channel: TabChannel) {
    this.#locks = locks;
    this.#name = name;
    this.#channel = channel;
  }

  /** Runs `work` holding the lock, once the previous holder's outcome has arrived. */
  async withLock(work: () => Promise<void>): Promise<void> {
    if (this.#locks === null) return work();
    await this.#locks.request(this.#name, async () => {
      await this.#otherTabDone();
      await work();
    });
  }

  /** Tells the other tabs a rotation starts. */
  announceRefreshing(): void {
    this.#channel.post({ type: 'refreshing' });
  }

  /** Tells the other tabs a rotation ended with neither a session nor a sign-out to hand over. */
  announceEnded(): void {
    this.#channel.post({ type: 'refresh-ended' });
  }

  /** Notes a message from another tab, before the client applies it. */
  heard(message: TabMessage): void {
    this.#otherTabRefreshing = message.type === 'refreshing';
  }

  /** The client has applied what it heard: a tab waiting for the outcome may go on. */
  applied(): void {
    if (this.#otherTabRefreshing) return;
    for (const resolve of this.#waiters) resolve();
    this.#waiters.clear();
  }

  async #otherTabDone(): Promise<void> {
    if (!this.#otherTabRefreshing) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#waiters.add(resolve);
      timer = setTimeout(resolve, HAND_OVER_WAIT_MS);
    });
    clearTimeout(timer);
  }
}
