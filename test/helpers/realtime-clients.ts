import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface CloseEventLike {
  readonly code: number;
  readonly reason: string;
}

export interface WsClientOptions {
  readonly connectionParams?: Record<string, unknown> | (() => Promise<Record<string, unknown>>);
  /** Headers of the upgrade request (Cookie, Origin). */
  readonly headers?: Record<string, string>;
}

/** What reached the client, in the order it arrived: results of subscriptions and the close. */
export type TimelineEntry = { readonly type: 'next'; readonly value: unknown } | { readonly type: 'closed'; readonly code: number };

export interface TestWsClient {
  readonly client: Client;
  /** Resolves with the close event once the server (or client) closes the socket. */
  readonly closed: Promise<CloseEventLike>;
  /** Resolves when the server acknowledged connection_init. */
  readonly connected: Promise<void>;
  readonly timeline: TimelineEntry[];
  /** Subscribes and collects results; `next()` waits for the next one. */
  subscribe(query: string): Subscription;
  dispose(): Promise<void>;
}

/** The `ws` WebSocket with extra headers on the upgrade request, as graphql-ws's webSocketImpl. */
export function webSocketWithHeaders(headers?: Record<string, string>): unknown {
  return class extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  };
}

export interface Subscription {
  readonly results: unknown[];
  /** Resolves with the n-th result (0-based), waiting for it. */
  nth(n: number): Promise<unknown>;
  readonly done: Promise<void>;
}

/** A real graphql-ws client over `ws`, that never retries, recording how its socket closed. */
export function openWsClient(url: string, { connectionParams, headers }: WsClientOptions = {}): TestWsClient {
  let onClosed!: (event: CloseEventLike) => void;
  const closed = new Promise<CloseEventLike>((resolve) => (onClosed = resolve));
  let onConnected!: () => void;
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const timeline: TimelineEntry[] = [];
  const client = createClient({
    url,
    lazy: false,
    retryAttempts: 0,
    connectionParams,
    webSocketImpl: webSocketWithHeaders(headers),
    on: {
      connected: () => onConnected(),
      closed: (event) => {
        const { code, reason } = event as CloseEventLike;
        timeline.push({ type: 'closed', code });
        onClosed({ code, reason: String(reason) });
      },
    },
    onNonLazyError: () => {},
  });
  return {
    client,
    closed,
    connected,
    timeline,
    subscribe: (query) => collect((sink) => client.subscribe({ query }, sink), timeline),
    dispose: () => client.dispose() as Promise<void>,
  };
}

type SinkSubscriber = (sink: { next(value: unknown): void; error(error: unknown): void; complete(): void }) => unknown;

export function collect(subscribe: SinkSubscriber, timeline?: TimelineEntry[]): Subscription {
  const results: unknown[] = [];
  const waiters: { n: number; resolve: (value: unknown) => void }[] = [];
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const push = (value: unknown) => {
    results.push(value);
    for (const waiter of waiters.splice(0)) {
      if (results.length > waiter.n) waiter.resolve(results[waiter.n]);
      else waiters.push(waiter);
    }
  };
  const next = (value: unknown) => {
    timeline?.push({ type: 'next', value });
    push(value);
  };
  subscribe({
    next,
    error: (error) => {
      push({ error });
      finish();
    },
    complete: finish,
  });
  return {
    results,
    done,
    nth: (n) => (results.length > n ? Promise.resolve(results[n]) : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

export interface TestSseStream {
  readonly status: number;
  readonly events: SseEvent[];
  /** Resolves with the n-th event (0-based). */
  nth(n: number): Promise<SseEvent>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  abort(): void;
}

/** A real Server-Sent Events stream of one GraphQL subscription over fetch. */
export async function openSseStream(url: string, query: string, headers: Record<string, string> = {}): Promise<TestSseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query }),
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const waiters: { n: number; resolve: (e: SseEvent) => void }[] = [];
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = response.body.getReader();
    try {
      for (let read = await reader.read(); !read.done; read = await reader.read()) {
        buffer += decoder.decode(read.value, { stream: true });
        for (let boundary = buffer.indexOf('\n\n'); boundary >= 0; boundary = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
          const dataLines = [...block.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]);
          if (dataLines.length === 0 && event === 'message') continue; // keep-alive comment
          const raw = dataLines.join('\n');
          const parsed: SseEvent = { event, data: raw === '' ? null : JSON.parse(raw) };
          events.push(parsed);
          for (const waiter of waiters.splice(0)) {
            if (events.length > waiter.n) waiter.resolve(events[waiter.n]!);
            else waiters.push(waiter);
          }
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    status: response.status,
    events,
    ended,
    nth: (n) => (events.length > n ? Promise.resolve(events[n]!) : new Promise((resolve) => waiters.push({ n, resolve }))),
    abort: () => controller.abort(),
  };
}

/** Waits for a promise, failing after a bound so a missing event never hangs the suite. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref())]);
}

/** The payloads of the `next` events of a finished SSE answer (a query or mutation over SSE), in order. */
export function eventStreamResults<T = { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] }>(text: string): T[] {
  return text
    .split('\n\n')
    .filter((block) => /^event: next$/m.test(block))
    .map((block) => JSON.parse(/^data: ?(.*)$/m.exec(block)![1]!) as T);
}
