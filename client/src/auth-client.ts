import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client as SseClient, ClientOptions as SseClientOptions } from 'graphql-sse';
import type { Client as WsClient, ClientOptions as WsClientOptions } from 'graphql-ws';
import { AUTH_PAYLOAD_FIELDS, type AuthPayload, sessionFromPayload } from './auth-payload.js';
import { type ConnectionCredentials, type ConnectionToken, RefreshUnavailableError } from './connection-credentials.js';
import { GraphQLRequestError, NotSignedInError, unauthenticatedReason } from './errors.js';
import { CrossTabRefresh } from './cross-tab-refresh.js';
import { createMemoryStorage } from './memory-storage.js';
import { printDocument } from './print-document.js';
import { SessionState } from './session-state.js';
import { SessionTiming } from './session-timing.js';
import { createSessionSseClient } from './sse-client.js';
import { TabChannel, type TabMessage } from './tab-channel.js';
import { Transport } from './transport.js';
import type { AuthClient, AuthClientOptions, Delivery, LockManagerLike, Scheduler, SessionUser, SignedOutReason } from './types.js';
import { createSessionWsClient } from './ws-client.js';

export const DEFAULT_REFRESH_AT = 0.8;
export const DEFAULT_EXPIRY_MARGIN_MS = 30_000;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The gateway's reasons that end a session, for a request as for a refresh. */
const SESSION_ENDING_REASONS = new Set<string>(['REFRESH_TOKEN_REUSED', 'SESSION_REVOKED', 'USER_NOT_FOUND']);

const REGISTER = `mutation Register($input: RegisterInput!) { register(input: $input) { ${AUTH_PAYLOAD_FIELDS} } }`;
const LOGIN = `mutation Login($input: LoginInput!) { login(input: $input) { ${AUTH_PAYLOAD_FIELDS} } }`;
// Without the argument the gateway rotates the refreshToken cookie (cookie mode).
const REFRESH = `mutation Refresh($refreshToken: String) { refresh(refreshToken: $refreshToken) { ${AUTH_PAYLOAD_FIELDS} } }`;

/** A client of the gateway that keeps one session alive: see AuthClient and the README's "Client SDK". */
export function createAuthClient(options: AuthClientOptions): AuthClient {
  return new GatewayAuthClient(options);
}

const defaultSchedule: Scheduler = (callback, delayMs) => {
  const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
  // Node: a pending refresh must not keep a script from exiting.
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
};

function defaultLocks(): LockManagerLike | null {
  return (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks ?? null;
}

class GatewayAuthClient implements AuthClient {
  readonly #url: string;
  readonly #delivery: Delivery;
  readonly #now: () => number;
  readonly #timing: SessionTiming;
  readonly #schedule: Scheduler;
  readonly #crossTab: CrossTabRefresh;
  readonly #fetch: typeof fetch;
  readonly #transport: Transport;
  readonly #state: SessionState;
  readonly #channel: TabChannel;
  readonly #ready: Promise<void>;
  readonly #listeners = new Set<(reason: SignedOutReason) => void>();
  readonly #realtime = new Set<{ dispose(): unknown }>();
  #refreshing: Promise<void> | undefined;
  #cancelTimer: (() => void) | undefined;
  #signingOut = false;
  #disposed = false;

  constructor(options: AuthClientOptions) {
    const { url, delivery, refreshAt = DEFAULT_REFRESH_AT, expiryMarginMs = DEFAULT_EXPIRY_MARGIN_MS } = options;
    if (typeof url !== 'string' || url === '') throw new TypeError('url must be the GraphQL endpoint');
    if (delivery !== 'cookie' && delivery !== 'body') throw new TypeError("delivery must be 'cookie' or 'body'");
    if (!(refreshAt > 0 && refreshAt < 1)) throw new TypeError('refreshAt must be a fraction between 0 and 1');
    if (!(expiryMarginMs >= 0)) throw new TypeError('expiryMarginMs must not be negative');
    const fetchFn = options.fetch ?? (typeof fetch === 'function' ? (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init) : undefined);
    if (fetchFn === undefined) throw new TypeError('no fetch: pass options.fetch');
    this.#url = url;
    this.#delivery = delivery;
    this.#now = options.now ?? Date.now;
    this.#timing = new SessionTiming({ refreshAt, marginMs: expiryMarginMs, now: this.#now });
    this.#schedule = options.schedule ?? defaultSchedule;
    this.#fetch = fetchFn;
    this.#transport = new Transport({ url, delivery, fetch: fetchFn });
    this.#state = new SessionState(options.storage ?? createMemoryStorage());
    this.#state.onChange(() => this.#scheduleRefresh());
    if (options.onSignedOut) this.#listeners.add(options.onSignedOut);
    // Shared by default in cookie mode only: there the browser's cookie jar makes the session one
    // for every tab already. A body-mode session is its client's own (a server may hold one per user).
    const shared = delivery === 'cookie';
    const channelName = options.broadcastChannel === undefined ? (shared ? `graphql-auth-gateway:${url}` : null) : options.broadcastChannel;
    this.#channel = new TabChannel(channelName, (message) => void this.#onTabMessage(message));
    const locks = options.locks === undefined ? (shared ? defaultLocks() : null) : options.locks;
    this.#crossTab = new CrossTabRefresh(locks, `graphql-auth-gateway:refresh:${url}`, this.#channel);
    this.#ready = this.#state.load();
  }

  get user(): SessionUser | null {
    return this.#state.session?.user ?? null;
  }

  register(input: { username: string; password: string; deviceName?: string }): Promise<SessionUser> {
    return this.#signIn('register', REGISTER, input);
  }

  signIn(input: { username: string; password: string; deviceName?: string }): Promise<SessionUser> {
    return this.#signIn('login', LOGIN, input);
  }

  async signOut({ everywhere = false }: { everywhere?: boolean } = {}): Promise<void> {
    await this.#ready;
    if (this.#state.session === null) return;
    this.#signingOut = true;
    let failure: unknown;
    try {
      await this.request(everywhere ? 'mutation { logoutAll }' : 'mutation { logout }');
    } catch (error) {
      failure = error;
    } finally {
      this.#signingOut = false;
    }
    await this.#endSession('SIGNED_OUT');
    // A session the gateway had already ended is signed out all the same.
    if (failure !== undefined && !(failure instanceof GraphQLRequestError && failure.code === 'UNAUTHENTICATED')) throw failure;
  }

  async request<TData, TVariables extends Record<string, unknown> = Record<string, never>>(
    document: string | TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): Promise<TData> {
    await this.#ready;
    const query = typeof document === 'string' ? document : printDocument(document);
    await this.#ensureFresh();
    const generation = this.#state.generation;
    let answer = await this.#transport.post<TData>(query, variables, this.#accessToken());
    const reason = unauthenticatedReason(answer.errors);
    if (reason !== undefined && this.#state.session !== null) {
      if (SESSION_ENDING_REASONS.has(reason)) await this.#endSession(reason as SignedOutReason);
      else if (await this.#refreshedSince(generation)) answer = await this.#transport.post<TData>(query, variables, this.#accessToken());
    }
    if ((answer.errors !== undefined && answer.errors.length > 0) || answer.data === undefined || answer.data === null) {
      throw new GraphQLRequestError(answer.errors ?? [], answer.status);
    }
    return answer.data;
  }

  async fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
    await this.#ready;
    await this.#ensureFresh();
    const generation = this.#state.generation;
    const response = await this.#fetch(input, this.#transport.withSession(init, this.#accessToken()));
    // A stream or a Request's own body cannot be sent twice.
    const replayable = !(typeof Request !== 'undefined' && input instanceof Request && input.body !== null) && !(init.body instanceof ReadableStream);
    if (response.status !== 401 || this.#state.session === null || !replayable) return response;
    if (!(await this.#refreshedSince(generation))) return response;
    return this.#fetch(input, this.#transport.withSession(init, this.#accessToken()));
  }

  refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  onSignedOut(listener: (reason: SignedOutReason) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  createWsClient(options: Partial<WsClientOptions> = {}): WsClient {
    const client = createSessionWsClient(this.#connectionCredentials(), options);
    this.#realtime.add(client);
    return client;
  }

  createSseClient(options: Partial<SseClientOptions> = {}): SseClient {
    const client = createSessionSseClient(this.#connectionCredentials(), options);
    this.#realtime.add(client);
    return client;
  }

  async resume(): Promise<SessionUser | null> {
    await this.#ready;
    if (this.#state.session !== null) {
      try {
        await this.#ensureFresh();
      } catch {
        // The refresh could not be made (the network): the session stands until the gateway refuses it.
      }
      return this.user;
    }
    if (this.#delivery === 'body') return null;
    try {
      await this.refresh();
    } catch (error) {
      if (error instanceof GraphQLRequestError && error.code === 'UNAUTHENTICATED') return null;
      throw error;
    }
    return this.user;
  }

  dispose(): void {
    this.#disposed = true;
    this.#cancelTimer?.();
    this.#channel.close();
    for (const client of this.#realtime) void client.dispose();
    this.#realtime.clear();
    this.#listeners.clear();
  }

  async #signIn(field: 'register' | 'login', mutation: string, input: { username: string; password: string; deviceName?: string }): Promise<SessionUser> {
    await this.#ready;
    const refreshTokenDelivery = this.#delivery === 'cookie' ? 'COOKIE' : 'BODY';
    const answer = await this.#transport.post<Record<string, AuthPayload>>(mutation, { input: { ...input, refreshTokenDelivery } }, null);
    const payload = answer.data?.[field];
    if (payload === undefined) throw new GraphQLRequestError(answer.errors ?? [], answer.status);
    await this.#adopt(payload);
    return payload.user;
  }

  /**
   * One rotation, holding the cross-tab lock (CrossTabRefresh). A tab that waited for the lock
   * while another refreshed finds the new session, handed over or in a shared storage, and
   * uses it: a second rotation would present a refresh token that was just rotated (body mode).
   */
  async #refreshOnce(): Promise<void> {
    await this.#ready;
    const generation = this.#state.generation;
    await this.#crossTab.withLock(async () => {
      await this.#state.load();
      const session = this.#state.session;
      if (this.#state.generation !== generation && session !== null && !this.#timing.dueBeforeRequest(session)) return;
      this.#crossTab.announceRefreshing();
      const before = this.#state.generation;
      try {
        await this.#rotate();
      } finally {
        // Adopted or signed out, the other tabs heard; otherwise tell them it is over.
        if (this.#state.generation === before) this.#crossTab.announceEnded();
      }
    });
  }

  async #rotate(): Promise<void> {
    const refreshToken = this.#state.session?.refreshToken ?? null;
    if (this.#delivery === 'body' && refreshToken === null) throw new NotSignedInError();
    const answer = await this.#transport.post<{ refresh: AuthPayload }>(REFRESH, this.#delivery === 'body' ? { refreshToken } : undefined, null);
    const payload = answer.data?.refresh;
    if (payload) return this.#adopt(payload);
    const reason = unauthenticatedReason(answer.errors);
    // Refused: the session is over. Anything else (RATE_LIMITED, INTERNAL) may pass.
    if (reason !== undefined) await this.#endSession(SESSION_ENDING_REASONS.has(reason) ? (reason as SignedOutReason) : 'REFRESH_FAILED');
    throw new GraphQLRequestError(answer.errors ?? [], answer.status);
  }

  async #adopt(payload: AuthPayload): Promise<void> {
    const session = sessionFromPayload(payload, this.#now());
    await this.#state.set(session);
    this.#channel.post({ type: 'session', session });
  }

  /** Clears the session and tells the listeners and the other tabs, once: nothing happens without a session. */
  async #endSession(reason: SignedOutReason, fromAnotherTab = false): Promise<void> {
    if (this.#state.session === null) return;
    await this.#state.set(null);
    if (!fromAnotherTab) this.#channel.post({ type: 'signed-out', reason });
    for (const listener of [...this.#listeners]) {
      try {
        listener(reason);
      } catch {
        // One listener's failure is not the session's.
      }
    }
  }

  async #onTabMessage(message: TabMessage): Promise<void> {
    this.#crossTab.heard(message);
    await this.#ready;
    if (this.#disposed) return;
    if (message.type === 'session') await this.#state.set(message.session);
    else if (message.type === 'signed-out') await this.#endSession(message.reason, true);
    this.#crossTab.applied();
  }

  /**
   * Refreshes before a request when the token expires within the margin. A refused refresh has
   * ended the session and the request goes out without it; one that could not be made fails
   * the request only once the token has expired.
   */
  async #ensureFresh(): Promise<void> {
    const session = this.#state.session;
    if (session === null || !this.#timing.dueBeforeRequest(session)) return;
    try {
      await this.refresh();
    } catch (error) {
      const current = this.#state.session;
      if (current === null || !this.#timing.expiresWithin(current, 0)) return;
      throw error;
    }
  }

  /**
   * After an answer refusing the token sent at `generation`: refreshes unless the session
   * changed meanwhile (another request or tab refreshed), and tells whether there is a session
   * to retry with. A refresh that could not be made is thrown.
   */
  async #refreshedSince(generation: number): Promise<boolean> {
    if (this.#state.generation === generation) {
      try {
        await this.refresh();
      } catch (error) {
        if (this.#state.session !== null) throw error;
      }
    }
    return this.#state.session !== null;
  }

  #accessToken(): string | null {
    return this.#delivery === 'body' ? (this.#state.session?.accessToken ?? null) : null;
  }

  /** Schedules the background refresh at `refreshAt` of the token's lifetime (or the margin before its expiry). */
  #scheduleRefresh(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const session = this.#state.session;
    if (session === null || this.#disposed) return;
    this.#cancelTimer = this.#schedule(() => void this.#refreshInBackground(), this.#timing.refreshPoint(session) - this.#now());
  }

  async #refreshInBackground(): Promise<void> {
    try {
      await this.refresh();
    } catch {
      // Refused: the session has ended (and with it the timer). Otherwise try again, sooner as expiry nears.
      const session = this.#state.session;
      if (session === null || this.#disposed) return;
      const retryIn = Math.min(30_000, Math.max(1000, (session.accessTokenExpiresAt - this.#now()) / 2));
      this.#cancelTimer = this.#schedule(() => void this.#refreshInBackground(), retryIn);
    }
  }

  #connectionCredentials(): ConnectionCredentials {
    const url = new URL(this.#url, (globalThis as { location?: { href: string } }).location?.href);
    const wsUrl = new URL(url);
    wsUrl.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return {
      url: url.href,
      wsUrl: wsUrl.href,
      cookies: this.#delivery === 'cookie',
      fetch: this.#fetch,
      tokenForConnection: (expiredGeneration) => this.#tokenForConnection(expiredGeneration),
      expiresSoon: () => {
        const session = this.#state.session;
        return session !== null && this.#timing.dueBeforeConnection(session);
      },
      endedByGateway: (reason) => {
        if (!this.#signingOut) void this.#endSession(reason);
      },
    };
  }

  async #tokenForConnection(expiredGeneration?: number): Promise<ConnectionToken> {
    await this.#ready;
    const session = this.#state.session;
    if (session === null) throw new NotSignedInError();
    const refused = expiredGeneration !== undefined && expiredGeneration === this.#state.generation;
    if (refused || this.#timing.dueBeforeConnection(session)) {
      try {
        await this.refresh();
      } catch (error) {
        if (this.#state.session === null) throw error;
        throw new RefreshUnavailableError(error);
      }
    }
    const current = this.#state.session;
    if (current === null) throw new NotSignedInError();
    return { token: current.accessToken, generation: this.#state.generation };
  }
}
