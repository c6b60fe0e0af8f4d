import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';
import { ifNoneMatchNames, strongEntityTag } from '../http/entity-tag.js';

export const ACCOUNT_PAGE_PATH = '/account';

/** What the built index.html says where the GraphQL endpoint is; the gateway writes its own path there. */
export const GRAPHQL_ENDPOINT_PLACEHOLDER = '__GRAPHQL_ENDPOINT__';

/**
 * Scripts and styles from this gateway only, no inline script or style, no framing: a page that
 * holds a session must not run anything it did not ship, nor be clickjacked into revoking one.
 */
export const ACCOUNT_PAGE_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};

/** Where `npm run build` writes the page (account/build.ts): dist/account of this package. */
export const DEFAULT_ACCOUNT_PAGE_DIRECTORY = join(packageRoot(), 'dist', 'account');

export interface AccountPageOptions {
  /** The GraphQL path the page talks to (config.graphqlPath). */
  readonly graphqlPath: string;
  /** The built page; DEFAULT_ACCOUNT_PAGE_DIRECTORY. */
  readonly directory?: string;
}

interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

/** Whether the page has been built into a directory (the start-up banner says where it is, or how to build it). */
export function accountPageBuilt(directory = DEFAULT_ACCOUNT_PAGE_DIRECTORY): boolean {
  return existsSync(join(directory, 'index.html'));
}

/**
 * Serves the account page (sign-in, profile, devices, tokens, password) at /account: the files
 * `npm run build` wrote, read once on the first request that finds them, with a strict
 * Content-Security-Policy. Until the page is built it answers 404 saying how to build it.
 */
export function useAccountPage({ graphqlPath, directory = DEFAULT_ACCOUNT_PAGE_DIRECTORY }: AccountPageOptions): Plugin {
  let loaded: ReadonlyMap<string, Asset> | undefined;
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      const { pathname } = url;
      if (pathname !== ACCOUNT_PAGE_PATH && !pathname.startsWith(`${ACCOUNT_PAGE_PATH}/`)) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { Allow: 'GET, HEAD' } }));
        return;
      }
      loaded ??= await loadAssets(directory, graphqlPath);
      const name = pathname.slice(ACCOUNT_PAGE_PATH.length).replace(/^\//, '') || 'index.html';
      const asset = loaded?.get(name);
      const security = {
        'Content-Security-Policy': ACCOUNT_PAGE_CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': 'DENY',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Opener-Policy': 'same-origin',
      };
      if (!asset) {
        const message = loaded ? 'Not found' : 'The account page is not built: run npm run build.';
        endResponse(new fetchAPI.Response(message, { status: 404, headers: { ...security, 'Content-Type': 'text/plain; charset=utf-8' } }));
        return;
      }
      // Revalidated on every load, so that a new build reaches browsers at once.
      const headers = { ...security, ETag: asset.etag, 'Cache-Control': 'no-cache' };
      if (ifNoneMatchNames(request.headers.get('if-none-match'), asset.etag)) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : asset.body, { status: 200, headers: { ...headers, 'Content-Type': asset.type } }));
    },
  };
}

/** The files of a built page by name, or undefined while it is not built. */
async function loadAssets(directory: string, graphqlPath: string): Promise<ReadonlyMap<string, Asset> | undefined> {
  if (!accountPageBuilt(directory)) return undefined;
  const assets = new Map<string, Asset>();
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    let text = await readFile(join(directory, entry.name), 'utf8');
    if (entry.name === 'index.html') text = text.replaceAll(GRAPHQL_ENDPOINT_PLACEHOLDER, escapeAttribute(graphqlPath));
    assets.set(entry.name, { body: text, type, etag: strongEntityTag(text) });
  }
  return assets;
}

function escapeAttribute(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The directory of this package's package.json, from src/ under tsx or dist/src/ once built. */
function packageRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('use-account-page: no package.json above this module');
    directory = parent;
  }
  return directory;
}
