import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import { CookieJar } from 'tough-cookie';

/** A user of the test provider; its claims are what the ID token and userinfo say. */
export interface TestOidcAccount {
  readonly sub: string;
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly preferred_username?: string;
  readonly name?: string;
}

/** A client registered with the test provider. */
export interface TestOidcClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
}

export interface TestOidcProviderOptions {
  readonly clients: readonly TestOidcClient[];
  readonly accounts: readonly TestOidcAccount[];
  /**
   * The issuer identifier, when the provider is reached through something else (a relay): by
   * default its own URL.
   */
  readonly issuer?: string;
}

export interface TestOidcProvider {
  /** The issuer identifier (SSO_<NAME>_ISSUER). */
  readonly issuer: string;
  /** Where it listens: http://127.0.0.1:PORT. */
  readonly origin: string;
  /**
   * A browser's visit: follows the authorization URL through the provider's login, signs in as
   * `sub` (the scripted login), and returns where the provider then sends the browser: the
   * client's redirect URI with `code`, `state` and `iss`. Not followed.
   */
  signIn(authorizationUrl: string | URL, sub: string): Promise<URL>;
  /** The same visit, where the user cancels at the login: the redirect URI with `error=access_denied`. */
  cancel(authorizationUrl: string | URL): Promise<URL>;
  /** Stops answering: every connection is cut, as a provider that went down. */
  close(): Promise<void>;
}

/**
 * A real OpenID Provider for tests (oidc-provider, a certified OP implementation) on a loopback
 * port: the authorization code flow with PKCE required for every client, ID tokens signed with
 * a fresh RS256 key, profile and email claims at the userinfo endpoint (as the specification's
 * default has it), and an interaction endpoint that signs in the account the test names instead
 * of showing a login form. Consent is granted as asked.
 */
export async function startTestOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handler(req, res));
  const origin = await listen(server);
  const issuer = options.issuer ?? origin;
  const accounts = new Map(options.accounts.map((account) => [account.sub, account]));
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const provider = new Provider(issuer, {
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: [...client.redirectUris],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // openid-client's default.
      token_endpoint_auth_method: 'client_secret_post',
    })),
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: ['test-provider-cookie-key'] },
    adapter: memoryAdapter(),
    // Stated, so that the provider does not remark on its defaults.
    ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 3600, IdToken: 600, Interaction: 600, Session: 3600 },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      return account && { accountId: sub, claims: () => ({ ...account }) };
    },
  });
  const callback = provider.callback();
  handler = (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interact(provider, req, res).catch((error: unknown) => res.writeHead(500).end(String(error)));
      return;
    }
    callback(req, res);
  };
  return {
    issuer,
    origin,
    signIn: (authorizationUrl, sub) => browse(new URL(authorizationUrl), { sub }),
    cancel: (authorizationUrl) => browse(new URL(authorizationUrl), { cancel: '1' }),
    close: () => closeServer(server),
  };
}

/**
 * Where one provider keeps its sessions, codes and grants: its own maps, for as long as it runs
 * (the package's default is shared by every provider in the process, and says so on the console).
 */
function memoryAdapter(): new (model: string) => Adapter {
  const stored = new Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>();
  return class MemoryAdapter implements Adapter {
    readonly #model: string;
    constructor(model: string) {
      this.#model = model;
    }
    #key(id: string): string {
      return `${this.#model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      stored.set(this.#key(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
      if (payload.uid) stored.set(`${this.#model}:uid:${payload.uid}`, { payload: { jti: id }, expiresAt: undefined });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      const entry = stored.get(this.#key(id));
      return entry && (entry.expiresAt === undefined || entry.expiresAt > Date.now()) ? entry.payload : undefined;
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = stored.get(`${this.#model}:uid:${uid}`)?.payload.jti;
      return id === undefined ? undefined : this.find(id);
    }
    async findByUserCode(): Promise<AdapterPayload | undefined> {
      return undefined;
    }
    async consume(id: string): Promise<void> {
      const entry = stored.get(this.#key(id));
      if (entry) entry.payload = { ...entry.payload, consumed: Math.floor(Date.now() / 1000) };
    }
    async destroy(id: string): Promise<void> {
      stored.delete(this.#key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of stored) if (entry.payload.grantId === grantId) stored.delete(key);
    }
  };
}

/**
 * The scripted login: `/interaction/<uid>?sub=<sub>` signs in that account (`?cancel=1`: the
 * user gives up), and a consent prompt is answered with a grant of what it asks for.
 */
async function interact(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const query = new URL(req.url!, 'http://provider').searchParams;
  if (query.has('cancel')) {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user cancelled' }, { mergeWithLastSubmission: false });
    return;
  }
  if (details.prompt.name === 'login') {
    const sub = query.get('sub');
    if (!sub) throw new Error('the scripted login needs ?sub=');
    await provider.interactionFinished(req, res, { login: { accountId: sub } }, { mergeWithLastSubmission: false });
    return;
  }
  const asked = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
  if (asked.missingOIDCScope) grant.addOIDCScope(asked.missingOIDCScope.join(' '));
  if (asked.missingOIDCClaims) grant.addOIDCClaims(asked.missingOIDCClaims);
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
}

/**
 * Follows redirects as a browser with its own cookies would, from the authorization URL until a
 * redirect leaves the origin it started at (the provider's public origin); the interaction
 * page gets the user's answer (the account to sign in, or a cancel).
 */
async function browse(start: URL, answer: Record<string, string>): Promise<URL> {
  const jar = new CookieJar();
  let url = start;
  for (let hops = 0; hops < 10; hops++) {
    const cookie = await jar.getCookieString(url.href);
    const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const setCookie of response.headers.getSetCookie()) await jar.setCookie(setCookie, url.href);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) {
      throw new Error(`the provider answered ${response.status} at ${url.pathname}: ${(await response.text()).slice(0, 500)}`);
    }
    await response.body?.cancel();
    const next = new URL(location, url);
    if (next.origin !== start.origin) return next;
    if (next.pathname.startsWith('/interaction/')) for (const [name, value] of Object.entries(answer)) next.searchParams.set(name, value);
    url = next;
  }
  throw new Error('too many redirects at the provider');
}

/** What a relay in front of a provider changes, besides presenting the provider at its own origin. */
export interface RelayOptions {
  /** Replace this client id (and its secret) by another client's in authorization and token requests. */
  readonly swapClient?: { readonly from: string; readonly to: { readonly clientId: string; readonly clientSecret: string } };
}

export interface Relay {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** Starts forwarding to `target` (an origin), changing what `options` say. */
  forwardTo(target: string, options?: RelayOptions): void;
  close(): Promise<void>;
}

/**
 * A real HTTP reverse proxy in front of a test provider, presenting it at the relay's origin:
 * the target's origin in the discovery document (its issuer too, when that is the target's
 * URL) and in redirects becomes the relay's. Optionally it also swaps the client, as a
 * compromised path to a provider could. Nothing is answered by the relay itself.
 */
export async function startRelay(): Promise<Relay> {
  let target: string | undefined;
  let options: RelayOptions = {};
  const server = createServer((req, res) => {
    relay(req, res).catch((error: unknown) => res.writeHead(502).end(String(error)));
  });
  const origin = await listen(server);

  async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!target) throw new Error('the relay has no target yet');
    const url = new URL(req.url!, target);
    const swap = options.swapClient;
    if (swap && url.searchParams.get('client_id') === swap.from) url.searchParams.set('client_id', swap.to.clientId);
    let body: string | undefined;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks).toString('utf8');
      const form = new URLSearchParams(body);
      if (swap && form.get('client_id') === swap.from) {
        form.set('client_id', swap.to.clientId);
        form.set('client_secret', swap.to.clientSecret);
        body = form.toString();
      }
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || ['host', 'content-length', 'connection'].includes(name)) continue;
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
    }
    const response = await fetch(url, { method: req.method, headers, body, redirect: 'manual' });
    let payload = Buffer.from(await response.arrayBuffer());
    if (url.pathname === '/.well-known/openid-configuration' && response.ok) {
      payload = Buffer.from(payload.toString('utf8').replaceAll(target, origin));
    }
    const out: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      if (!['set-cookie', 'content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(name)) out[name] = value;
    });
    const setCookies = response.headers.getSetCookie();
    if (setCookies.length > 0) out['set-cookie'] = setCookies;
    // The provider builds some redirects from the host it was asked at: the relay's is the public one.
    const location = response.headers.get('location');
    if (location?.startsWith(target)) out.location = origin + location.slice(target.length);
    res.writeHead(response.status, out).end(payload);
  }

  return {
    origin,
    forwardTo(to, relayOptions = {}) {
      target = to;
      options = relayOptions;
    },
    close: () => closeServer(server),
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
