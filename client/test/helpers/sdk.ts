import { randomUUID } from 'node:crypto';
import { CookieJar } from 'tough-cookie';
import type { LockManagerLike, Scheduler } from '../../src/index.js';
import type { GatewayHooks } from '../../../src/hooks.js';

/**
 * fetch with one browser's cookie jar: the cookies of an answer are kept and sent again where
 * they apply, for requests made with `credentials: 'include'`. Clients sharing a jar are tabs
 * of one browser.
 */
export function cookieJarFetch(jar = new CookieJar()): typeof fetch {
  return async (input, init = {}) => {
    const url = input instanceof Request ? input.url : String(input);
    const headers = new Headers(init.headers);
    if (init.credentials === 'include') {
      const cookie = await jar.getCookieString(url);
      if (cookie) headers.set('cookie', cookie);
    }
    const response = await fetch(input, { ...init, headers });
    for (const setCookie of response.headers.getSetCookie()) await jar.setCookie(setCookie, url);
    return response;
  };
}

/**
 * An exclusive lock per name with the Web Locks API's `request(name, callback)`, for Node,
 * which has no `navigator.locks`: callbacks of one name run one at a time, in order.
 */
export class InMemoryLocks implements LockManagerLike {
  readonly #tails = new Map<string, Promise<unknown>>();
  /** How many callbacks ran. */
  granted = 0;

  request(name: string, callback: (lock: unknown) => Promise<unknown>): Promise<unknown> {
    const run = (this.#tails.get(name) ?? Promise.resolve()).then(() => {
      this.granted++;
      return callback({ name, mode: 'exclusive' });
    });
    this.#tails.set(
      name,
      run.catch(() => {}),
    );
    return run;
  }
}

interface ScheduledTimer {
  readonly callback: () => void;
  readonly delayMs: number;
  cancelled: boolean;
}

/** Timers that fire only when the test says so, recording the delay each was set for. */
export class ManualScheduler {
  readonly timers: ScheduledTimer[] = [];

  readonly schedule: Scheduler = (callback, delayMs) => {
    const timer: ScheduledTimer = { callback, delayMs, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };

  /** The timers set and not cancelled (nor fired). */
  get pending(): ScheduledTimer[] {
    return this.timers.filter((timer) => !timer.cancelled);
  }

  /** Fires the one pending timer. */
  fire(): void {
    const [timer, ...others] = this.pending;
    if (!timer || others.length > 0) throw new Error(`expected one pending timer, found ${this.pending.length}`);
    timer.cancelled = true;
    timer.callback();
  }
}

/**
 * Counts the access tokens a gateway signs (sign-ins and refreshes), through the gateway's own
 * hook: what reached the gateway, whatever a client believes it sent.
 */
export function tokenCounter(): { readonly hooks: GatewayHooks; readonly count: () => number } {
  let signed = 0;
  return {
    hooks: {
      accessTokenClaims: () => {
        signed++;
        return {};
      },
    },
    count: () => signed,
  };
}

/** A BroadcastChannel name no other test uses. */
export function channelName(): string {
  return `test-${randomUUID()}`;
}
