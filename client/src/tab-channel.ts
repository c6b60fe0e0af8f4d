import type { SignedOutReason, StoredSession } from './types.js';

/**
 * What one tab tells the others: that it is refreshing (holding the lock), and how that ended:
 * the new session, a refusal (signed out) or a failure that may pass (refresh-ended).
 */
export type TabMessage =
  | { readonly type: 'refreshing' }
  | { readonly type: 'session'; readonly session: StoredSession }
  | { readonly type: 'refresh-ended' }
  | { readonly type: 'signed-out'; readonly reason: SignedOutReason };

/**
 * The tabs of one browser (or the clients of one process) sharing a session, over a
 * BroadcastChannel: each new session goes to the others, so that they stop using a refresh
 * token that was just rotated (body mode) and reschedule their own refresh (both modes). A
 * channel never hears its own messages. Without BroadcastChannel it does nothing.
 */
export class TabChannel {
  readonly #channel: BroadcastChannel | undefined;

  constructor(name: string | null, onMessage: (message: TabMessage) => void) {
    if (name === null || typeof BroadcastChannel === 'undefined') return;
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (event: MessageEvent) => onMessage(event.data as TabMessage);
    // Node: a channel left open must not keep the process alive.
    (this.#channel as { unref?: () => void }).unref?.();
  }

  post(message: TabMessage): void {
    this.#channel?.postMessage(message);
  }

  close(): void {
    this.#channel?.close();
  }
}
