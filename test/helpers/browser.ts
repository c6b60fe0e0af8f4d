import { existsSync, mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page, type WebSocket } from 'playwright-core';
import { ACCOUNT_PAGE_CONTENT_SECURITY_POLICY, GRAPHQL_ENDPOINT_PLACEHOLDER } from '../../src/plugins/use-account-page.js';

/** Debian's chromium package; CHROMIUM_PATH names another build. Playwright downloads none. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where the browser tests leave their screenshots (a CI artifact; ignored by git). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/account-page/', import.meta.url));

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Headless Chromium; `--no-sandbox` because CI runs as root, where Chromium's sandbox refuses to start. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], timeout: 60_000 });
}

/** What went wrong in a page that no assertion looks at: console errors (CSP refusals among them) and uncaught exceptions. */
export interface PageProblems {
  readonly errors: string[];
}

/** A new page that records its console errors and uncaught exceptions. */
export async function openPage(context: BrowserContext): Promise<{ page: Page; problems: PageProblems }> {
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const problems: PageProblems = { errors: [] };
  page.on('console', (message) => {
    if (message.type() === 'error') problems.errors.push(message.text());
  });
  page.on('pageerror', (error) => problems.errors.push(`uncaught: ${error.message}`));
  return { page, problems };
}

/** Saves a screenshot of the whole page as test-artifacts/account-page/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS_DIR, `${name}.png`), fullPage: true });
}

/** One WebSocket of a page, as the gateway saw it: the token it connected with, whether it is acknowledged, subscribed, closed. */
export interface ObservedSocket {
  /** `exp` of the access token in its ConnectionInit, in milliseconds. */
  tokenExpiresAt: number | undefined;
  acknowledged: boolean;
  subscribed: boolean;
  closed: boolean;
}

/** Records the page's GraphQL WebSockets (graphql-transport-ws frames), newest last. */
export function observeSockets(page: Page): ObservedSocket[] {
  const sockets: ObservedSocket[] = [];
  page.on('websocket', (socket: WebSocket) => {
    const observed: ObservedSocket = { tokenExpiresAt: undefined, acknowledged: false, subscribed: false, closed: false };
    sockets.push(observed);
    socket.on('framesent', ({ payload }) => {
      const message = parseFrame(payload);
      if (message?.type === 'connection_init') observed.tokenExpiresAt = expiryOf(message.payload?.authorization);
      if (message?.type === 'subscribe') observed.subscribed = true;
    });
    socket.on('framereceived', ({ payload }) => {
      if (parseFrame(payload)?.type === 'connection_ack') observed.acknowledged = true;
    });
    socket.on('close', () => {
      observed.closed = true;
    });
  });
  return sockets;
}

function parseFrame(payload: string | Buffer): { type?: string; payload?: { authorization?: string } } | undefined {
  try {
    return JSON.parse(String(payload)) as { type?: string; payload?: { authorization?: string } };
  } catch {
    return undefined;
  }
}

function expiryOf(authorization: string | undefined): number | undefined {
  const claims = authorization?.replace(/^Bearer /, '').split('.')[1];
  if (claims === undefined) return undefined;
  const { exp } = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { exp?: number };
  return exp === undefined ? undefined : exp * 1000;
}

/** A static host of the account page, on an origin of its own. */
export interface StaticPageHost {
  readonly port: number;
  /** Points the page at a gateway: its meta tag names `graphqlUrl`, and its Content-Security-Policy lets it connect there. */
  useGateway(graphqlUrl: string): void;
  close(): Promise<void>;
}

/**
 * A static host for the built account page, as a deployment that serves the page apart from
 * the gateway would. It listens before it knows the gateway (whose ALLOWED_ORIGINS name it).
 */
export async function serveAccountPageElsewhere(directory: string): Promise<StaticPageHost> {
  let graphqlUrl = 'http://gateway.invalid/graphql';
  let policy = ACCOUNT_PAGE_CONTENT_SECURITY_POLICY;
  const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://static.test').pathname;
    const name = path === '/account' || path === '/account/' ? 'index.html' : path.replace(/^\/account\//, '');
    if (!/^[\w.-]+$/.test(name)) {
      response.writeHead(404).end();
      return;
    }
    readFile(join(directory, name), 'utf8').then(
      (text) => {
        const body = name === 'index.html' ? text.replaceAll(GRAPHQL_ENDPOINT_PLACEHOLDER, graphqlUrl) : text;
        response.writeHead(200, { 'content-type': types[extname(name)] ?? 'application/octet-stream', 'content-security-policy': policy }).end(body);
      },
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    useGateway(url) {
      const gateway = new URL(url);
      graphqlUrl = gateway.href;
      policy = ACCOUNT_PAGE_CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' ${gateway.origin} ws://${gateway.host}`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
