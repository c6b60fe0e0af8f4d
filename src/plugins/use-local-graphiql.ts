import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import { ifNoneMatchNames, strongEntityTag } from '../http/entity-tag.js';

/** Where GraphiQL's script, styles and editor workers are served from, by this gateway. */
export const GRAPHIQL_ASSETS_PATH = '/graphiql/';

/**
 * GraphiQL's page runs only scripts from this gateway (no CDN, no inline script). Its editor
 * (Monaco) sets styles from script and starts module workers, hence the two relaxations.
 */
export const GRAPHIQL_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "worker-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The editor workers by the label Monaco asks for (see START_SCRIPT). */
const WORKERS = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' } as const;

/**
 * Reads the options from the page and starts GraphiQL with workers from this gateway: what
 * Yoga's own page does inline, with the editor workers fetched from a CDN.
 */
const START_SCRIPT = `'use strict';
(function () {
  var base = ${JSON.stringify(GRAPHIQL_ASSETS_PATH)};
  var workers = ${JSON.stringify(WORKERS)};
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (moduleId, label) { return base + (workers[label] || workers.editorWorkerService); },
  };
  var root = document.getElementById('root');
  YogaGraphiQL.renderYogaGraphiQL(root, JSON.parse(root.getAttribute('data-options') || '{}'));
})();
`;

interface Asset {
  readonly body: string | Uint8Array<ArrayBuffer>;
  readonly type: string;
  readonly etag: string;
}

/**
 * GraphiQL's page as Yoga's `renderGraphiQL`: the same application, its assets linked from this
 * gateway, its options in an attribute rather than an inline script.
 */
export function renderLocalGraphiQL(options: GraphiQLOptions): string {
  const title = escapeHtml(options.title ?? 'GraphiQL');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>${title}</title>
    <link rel="icon" href="${GRAPHIQL_ASSETS_PATH}favicon.ico">
    <link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}graphiql.css">
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root" data-options="${escapeHtml(JSON.stringify(options))}">Loading ${title}…</div>
    <script src="${GRAPHIQL_ASSETS_PATH}yoga-graphiql.js"></script>
    <script src="${GRAPHIQL_ASSETS_PATH}start.js"></script>
  </body>
</html>
`;
}

/**
 * Serves GraphiQL's assets from `@graphql-yoga/render-graphiql` (the build Yoga's CDN page
 * loads) under GRAPHIQL_ASSETS_PATH, and puts a Content-Security-Policy on the GraphiQL page.
 * For development only: the 9 MB of assets are loaded on the first request for one.
 */
export function useLocalGraphiQL({ graphqlPath }: { readonly graphqlPath: string }): Plugin {
  let assets: Promise<ReadonlyMap<string, Asset>> | undefined;
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(GRAPHIQL_ASSETS_PATH) || (request.method !== 'GET' && request.method !== 'HEAD')) return;
      assets ??= loadAssets();
      const asset = (await assets).get(url.pathname.slice(GRAPHIQL_ASSETS_PATH.length));
      if (!asset) {
        endResponse(new fetchAPI.Response('Not found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } }));
        return;
      }
      const headers = { ETag: asset.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
      if (ifNoneMatchNames(request.headers.get('if-none-match'), asset.etag)) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      endResponse(new fetchAPI.Response(request.method === 'HEAD' ? null : asset.body, { status: 200, headers: { ...headers, 'Content-Type': asset.type } }));
    },
    onResponse({ request, response }) {
      // Yoga's GraphiQL plugin answers a browser's GET on the GraphQL path with text/html.
      if (request.method !== 'GET' || !response.headers.get('content-type')?.startsWith('text/html')) return;
      if (new URL(request.url).pathname.replace(/\/$/, '') !== graphqlPath.replace(/\/$/, '')) return;
      response.headers.set('Content-Security-Policy', GRAPHIQL_CONTENT_SECURITY_POLICY);
      response.headers.set('X-Content-Type-Options', 'nosniff');
      response.headers.set('Referrer-Policy', 'no-referrer');
    },
  };
}

async function loadAssets(): Promise<ReadonlyMap<string, Asset>> {
  const graphiql = await import('@graphql-yoga/render-graphiql/graphiql');
  const javascript = 'text/javascript; charset=utf-8';
  const entries: [string, string, string][] = [
    ['yoga-graphiql.js', graphiql.js, javascript],
    ['graphiql.css', graphiql.css, 'text/css; charset=utf-8'],
    ['start.js', START_SCRIPT, javascript],
    [WORKERS.editorWorkerService, graphiql.editorWorkerService, javascript],
    [WORKERS.json, graphiql.jsonWorker, javascript],
    [WORKERS.graphql, graphiql.graphqlWorker, javascript],
  ];
  const assets = new Map<string, Asset>(entries.map(([name, body, type]) => [name, { body, type, etag: strongEntityTag(body) }]));
  const icon = /^data:([^;,]+);base64,(.*)$/.exec(graphiql.favicon);
  if (icon) assets.set('favicon.ico', { body: new Uint8Array(Buffer.from(icon[2]!, 'base64')), type: icon[1]!, etag: strongEntityTag(icon[2]!) });
  return assets;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
