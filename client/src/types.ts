import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { Client as SseClient, ClientOptions as SseClientOptions } from 'graphql-sse';
import type { ClientOptions as WsClientOptions, Client as WsClient } from 'graphql-ws';

/** Where the refresh token lives: an httpOnly cookie (browsers) or the client's storage (Node, native apps). */
export type Delivery = 'cookie' | 'body';

/** Why a session ended: the gateway's reason, a refresh the gateway refused, or the user signing out. */
export type SignedOutReason = 'REFRESH_TOKEN_REUSED' | 'SESSION_REVOKED' | 'USER_NOT_FOUND' | 'REFRESH_FAILED' | 'SIGNED_OUT';

/** The signed-in user. */
export interface SessionUser {
  readonly id: string;
  readonly username: string;
}

/** What the client keeps of a session. Times are epoch milliseconds on the client's clock (`now`). */
export interface StoredSession {
  /** The access token (held in both modes: cookie mode uses it for WebSocket and SSE). */
  accessToken: string | null;
  /** When the access token expires, on the client's clock: its lifetime added to when it arrived. */
  accessTokenExpiresAt: number;
  /** When the access token arrived, on the client's clock; the refresh timer runs from here. */
  accessTokenIssuedAt?: number;
  /** The refresh token in body mode; null in cookie mode (the gateway keeps it in an httpOnly cookie). */
  refreshToken: string | null;
  user: SessionUser | null;
}

/** Where body mode keeps the session between runs (a file, a keychain, localStorage). */
export interface TokenStorage {
  get(): Promise<StoredSession | null> | StoredSession | null;
  set(session: StoredSession | null): Promise<void> | void;
}

/** The part of the Web Locks API (`navigator.locks`) the client uses. */
export interface LockManagerLike {
  request(name: string, callback: (lock: unknown) => Promise<unknown>): Promise<unknown>;
}

/** Runs `callback` after `delayMs`; returns the function that cancels it. */
export type Scheduler = (callback: () => void, delayMs: number) => () => void;

export interface AuthClientOptions {
  /** The GraphQL endpoint, e.g. https://gw.example/graphql (relative in a browser: resolved against the page). */
  url: string;
  /** 'cookie' in browsers (httpOnly cookies, credentials: 'include'), 'body' in Node. */
  delivery: Delivery;
  /** Body mode: where the session is kept; in memory by default. */
  storage?: TokenStorage;
  /** When to refresh in the background, as a fraction of the access token's lifetime; 0.8 by default. */
  refreshAt?: number;
  /** Refresh before a request when the token expires within this; 30 s by default, at most the part of the lifetime after `refreshAt`. */
  expiryMarginMs?: number;
  fetch?: typeof fetch;
  /** The clock, for tests; Date.now by default. */
  now?: () => number;
  /** Timers, for tests; setTimeout (unref'd in Node) by default. */
  schedule?: Scheduler;
  /** Cross-tab refresh lock. Cookie mode: `navigator.locks` when present by default; body mode: none unless given. null: none. */
  locks?: LockManagerLike | null;
  /**
   * Name of the BroadcastChannel that hands sessions to the other tabs. Cookie mode: derived from
   * `url` by default; body mode: none unless given (its session is the client's own). null: none.
   */
  broadcastChannel?: string | null;
  onSignedOut?: (reason: SignedOutReason) => void;
}

export interface AuthClient {
  register(input: { username: string; password: string; deviceName?: string }): Promise<SessionUser>;
  signIn(input: { username: string; password: string; deviceName?: string }): Promise<SessionUser>;
  /** Ends this session (or, with `everywhere`, every session of the account) and clears the client's state. */
  signOut(options?: { everywhere?: boolean }): Promise<void>;
  /** Runs a GraphQL operation (string or TypedDocumentNode) with the session, refreshing/retrying as needed. Throws GraphQLRequestError with .errors. */
  request<TData, TVariables extends Record<string, unknown> = Record<string, never>>(
    document: string | TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
  ): Promise<TData>;
  /** fetch with the session attached (Authorization in body mode, cookies in cookie mode); one refresh and retry on 401. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** Refreshes now (single-flight across requests and tabs). */
  refresh(): Promise<void>;
  readonly user: SessionUser | null;
  /** Calls `listener` when the session ends; returns the function that stops it. */
  onSignedOut(listener: (reason: SignedOutReason) => void): () => void;
  /** graphql-ws client that survives token expiry (async connectionParams, retries on 4403). */
  createWsClient(options?: Partial<WsClientOptions>): WsClient;
  /** graphql-sse client that survives token expiry (async headers). */
  createSseClient(options?: Partial<SseClientOptions>): SseClient;
  /** Resumes a session (cookie mode: refreshes with the cookie; body mode: from storage); resolves to the user or null. */
  resume(): Promise<SessionUser | null>;
  /** Stops timers and the cross-tab channel, and disposes the realtime clients it created. */
  dispose(): void;
}
