import type { Client as WsClient } from 'graphql-ws';
import { type AuthClient, createAuthClient, type SessionUser, type SignedOutReason } from '../../client/src/index.js';

/** The GraphQL endpoint the page talks to: its meta tag, resolved against the page. */
export function graphqlEndpoint(): string {
  const content = document.querySelector<HTMLMetaElement>('meta[name="graphql-endpoint"]')?.content ?? '/graphql';
  return new URL(content, window.location.href).href;
}

/**
 * The page's one session: the SDK in cookie mode (the refresh token stays in an httpOnly cookie
 * the page never reads), and one WebSocket client for live updates, made when first needed and
 * closed when the session ends.
 */
export class PageSession {
  readonly client: AuthClient;
  #ws: WsClient | undefined;

  constructor(onSignedOut: (reason: SignedOutReason) => void) {
    this.client = createAuthClient({ url: graphqlEndpoint(), delivery: 'cookie' });
    this.client.onSignedOut((reason) => {
      this.#closeRealtime();
      onSignedOut(reason);
    });
  }

  get user(): SessionUser | null {
    return this.client.user;
  }

  /** The WebSocket client; it reconnects with a fresh token whenever the gateway closes an expired one. */
  realtime(): WsClient {
    this.#ws ??= this.client.createWsClient({ lazy: true });
    return this.#ws;
  }

  #closeRealtime(): void {
    void this.#ws?.dispose();
    this.#ws = undefined;
  }
}
