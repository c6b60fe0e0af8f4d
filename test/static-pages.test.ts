import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, beforeEach } from 'vitest';
import { ACCOUNT_PAGE_CONTENT_SECURITY_POLICY, GRAPHQL_ENDPOINT_PLACEHOLDER, useAccountPage } from '../src/plugins/use-account-page.js';
import { GRAPHIQL_ASSETS_PATH, GRAPHIQL_CONTENT_SECURITY_POLICY } from '../src/plugins/use-local-graphiql.js';
import { describe, expect, test } from './helpers/fixtures.js';

// The account page's and GraphiQL's files over HTTP; test/account-page.test.ts runs them in a browser.

const schema = createSchema({ typeDefs: 'type Query { ok: Boolean }' });

describe('the account page plugin', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'account-page-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  const yogaServing = (graphqlPath = '/graphql') =>
    createYoga({ schema, graphqlEndpoint: graphqlPath, plugins: [useAccountPage({ graphqlPath, directory })], logging: false });

  test('says how to build the page until it is built, then serves it, with the endpoint written in', async () => {
    const yoga = yogaServing('/api/graphql');
    const missing = await yoga.fetch('http://gateway.test/account');
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('The account page is not built: run npm run build.');

    writeFileSync(
      join(directory, 'index.html'),
      `<meta name="graphql-endpoint" content="${GRAPHQL_ENDPOINT_PLACEHOLDER}"><script src="/account/account.js"></script>`,
    );
    writeFileSync(join(directory, 'account.js'), 'console.log(1);');
    writeFileSync(join(directory, 'notes.txt'), 'not served');
    for (const path of ['/account', '/account/', '/account/index.html']) {
      const page = await yoga.fetch(`http://gateway.test${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toBe(ACCOUNT_PAGE_CONTENT_SECURITY_POLICY);
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(await page.text()).toContain('content="/api/graphql"');
    }
    const script = await yoga.fetch('http://gateway.test/account/account.js');
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe('console.log(1);');
    for (const path of ['/account/notes.txt', '/account/../package.json', '/account/missing.js', '/accounts']) {
      expect((await yoga.fetch(`http://gateway.test${path}`)).status, path).not.toBe(200);
    }
  });

  test('answers a repeated load with 304 on its ETag, and refuses other methods', async () => {
    writeFileSync(join(directory, 'index.html'), '<p>page</p>');
    const yoga = yogaServing();
    const first = await yoga.fetch('http://gateway.test/account');
    const etag = first.headers.get('etag')!;
    expect(first.headers.get('cache-control')).toBe('no-cache');
    const again = await yoga.fetch('http://gateway.test/account', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    const posted = await yoga.fetch('http://gateway.test/account', { method: 'POST', body: 'x' });
    expect(posted.status).toBe(405);
    expect(posted.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('GraphiQL', () => {
  test('is a page without inline script or CDN, whose assets the gateway serves', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { NODE_ENV: 'development' } });
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(GRAPHIQL_CONTENT_SECURITY_POLICY);
    const html = await page.text();
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<script>/);
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(sources.length).toBeGreaterThanOrEqual(4);
    for (const source of sources) {
      expect(source.startsWith(GRAPHIQL_ASSETS_PATH), source).toBe(true);
      const asset = await fetch(new URL(source, gateway.origin));
      expect(asset.status, source).toBe(200);
      expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    }
    for (const worker of ['editor.worker.js', 'json.worker.js', 'graphql.worker.js']) {
      expect((await fetch(new URL(`${GRAPHIQL_ASSETS_PATH}${worker}`, gateway.origin))).status, worker).toBe(200);
    }
  });

  test('is neither rendered nor served in production', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki' } });
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect((await fetch(new URL(`${GRAPHIQL_ASSETS_PATH}yoga-graphiql.js`, gateway.origin))).status).toBe(404);
  });
});
