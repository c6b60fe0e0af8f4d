import { generateKeyPair, SignJWT, UnsecuredJWT, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokens } from '../src/auth/access-tokens.js';
import { LoginDocument, MeDocument, RefreshDocument, RegisterDocument } from '../client/src/operations.js';
import { PASSWORD } from './helpers/accounts.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { eventStreamResults } from './helpers/realtime-clients.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

let gateway: TestGateway;
let accessToken: string;
let refreshToken: string;
let userId: string;
let sessionId: string;

beforeAll(async () => {
  gateway = await startTestGateway();
  const registered = await new GraphQLClient(gateway.url).request(RegisterDocument, {
    input: { username: 'verifier', password: PASSWORD, refreshTokenDelivery: 'BODY' },
  });
  const payload = registered.data!.register;
  ({ accessToken } = payload);
  refreshToken = payload.refreshToken!;
  userId = payload.user.id;
  sessionId = payload.session.id;
});
afterAll(() => gateway.close());

function me(token: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` }).request(MeDocument);
}

/** The claims of a genuine access token of the signed-in session, issued now for ten minutes. */
function genuineClaims() {
  const now = Math.floor(gateway.clock.now() / 1000);
  return { type: 'access', sid: sessionId, sub: userId, jti: 'j-1', iss: gateway.config.issuer, aud: gateway.config.audience, iat: now, exp: now + 600 };
}

/** Signs claims with the gateway's own key, so only the named defect is wrong. */
async function signWithGatewayKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const key = gateway.services.signingKeys.current;
  const full = { ...genuineClaims(), ...claims };
  for (const [name, value] of Object.entries(full)) if (value === undefined) delete (full as Record<string, unknown>)[name];
  return new SignJWT(full).setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
}

/** The gateway's signing key as the JWKS publishes it. */
async function publishedKey(): Promise<Record<string, unknown>> {
  const jwks = (await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
  return jwks.keys.find((key) => key.kid === decodeProtectedHeader(accessToken).kid)!;
}

describe('access token verification', () => {
  it('accepts the genuine token and publishes its key without private members', async () => {
    expect((await me(accessToken)).data?.me.id).toBe(userId);
    const jwks = (await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    const header = decodeProtectedHeader(accessToken);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: header.kid, kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const discovery = (await (await fetch(`${gateway.origin}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ issuer: gateway.config.issuer, jwks_uri: `${gateway.config.issuer}/.well-known/jwks.json` });
  });

  const forgeries: [string, () => Promise<string>][] = [
    [
      'alg none',
      async () =>
        new UnsecuredJWT({ type: 'access', sid: sessionId, sub: userId, jti: 'x' })
          .setIssuer(gateway.config.issuer)
          .setAudience(gateway.config.audience)
          .setIssuedAt()
          .setExpirationTime('10m')
          .encode(),
    ],
    [
      'alg none with our kid and typ',
      async () => {
        // UnsecuredJWT writes a bare {"alg":"none"}; this one differs from a genuine token in the algorithm alone.
        const [, payload] = (await signWithGatewayKey({})).split('.');
        const header = Buffer.from(JSON.stringify({ alg: 'none', kid: decodeProtectedHeader(accessToken).kid, typ: 'at+jwt' })).toString('base64url');
        return `${header}.${payload}.`;
      },
    ],
    ...(
      [
        ['the public JWK', async () => JSON.stringify(await publishedKey())],
        ['the public key bytes', async () => Buffer.from((await publishedKey()).x as string, 'base64url')],
        ['the JWKS document', async () => (await fetch(`${gateway.origin}/.well-known/jwks.json`)).text()],
      ] as const
    ).map(
      ([what, secret]) =>
        [
          `HS256 keyed with ${what}`,
          async () => {
            const key = await secret();
            return new SignJWT(genuineClaims())
              .setProtectedHeader({ alg: 'HS256', kid: decodeProtectedHeader(accessToken).kid!, typ: 'at+jwt' })
              .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);
          },
        ] as [string, () => Promise<string>],
    ),
    [
      'an unknown kid',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return new SignJWT(genuineClaims()).setProtectedHeader({ alg: 'ES256', kid: 'attacker-key', typ: 'at+jwt' }).sign(privateKey);
      },
    ],
    [
      'our kid but another key',
      async () => {
        const { privateKey } = await generateKeyPair('ES256');
        return new SignJWT({ type: 'access', sid: sessionId, sub: userId, jti: 'x' })
          .setProtectedHeader({ alg: 'ES256', kid: decodeProtectedHeader(accessToken).kid!, typ: 'at+jwt' })
          .setIssuer(gateway.config.issuer)
          .setAudience(gateway.config.audience)
          .setIssuedAt(Math.floor(gateway.clock.now() / 1000))
          .setExpirationTime(Math.floor(gateway.clock.now() / 1000) + 600)
          .sign(privateKey);
      },
    ],
    [
      'a tampered payload',
      async () => {
        const [header, payload, signature] = accessToken.split('.');
        const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
        claims.sub = 'someone-else';
        return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
      },
    ],
    ['a wrong issuer', () => signWithGatewayKey({ iss: 'https://evil.example' })],
    ['a wrong audience', () => signWithGatewayKey({ aud: 'another-api' })],
    ['typ JWT', () => signWithGatewayKey({}, { typ: 'JWT' })],
    ['no typ', () => signWithGatewayKey({}, { typ: undefined })],
    ['type refresh', () => signWithGatewayKey({ type: 'refresh' })],
    ['no type claim', () => signWithGatewayKey({ type: undefined })],
    ...(['sub', 'sid', 'jti', 'iat', 'exp', 'iss', 'aud'] as const).map(
      (claim) => [`no ${claim} claim`, () => signWithGatewayKey({ [claim]: undefined })] as [string, () => Promise<string>],
    ),
    ['the refresh token', async () => refreshToken],
    ['garbage', async () => 'not.a.jwt'],
  ];

  it.each(forgeries)('refuses %s with 401 TOKEN_INVALID', async (_name, forge) => {
    const response = await me(await forge());
    expect(response.status).toBe(401);
    expect(errorCode(response)).toBe('UNAUTHENTICATED');
    expect(errorReason(response)).toBe('TOKEN_INVALID');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.data ?? null).toBeNull();
  });

  it('refuses an expired token with 401 TOKEN_EXPIRED and the invalid_token challenge', async () => {
    const now = Math.floor(gateway.clock.now() / 1000);
    const response = await me(await signWithGatewayKey({ iat: now - 900, exp: now - 6 }));
    expect(response.status).toBe(401);
    expect(errorCode(response)).toBe('UNAUTHENTICATED');
    expect(errorReason(response)).toBe('TOKEN_EXPIRED');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.data ?? null).toBeNull();
  });

  it('refuses a refresh token delivered in a cookie, through every credential source', async () => {
    const browser = new GraphQLClient(gateway.url);
    expect((await browser.request(LoginDocument, { input: { username: 'verifier', password: PASSWORD } })).errors).toBeUndefined();
    const cookieRefreshToken = (await browser.cookie('refreshToken'))!;
    expect(cookieRefreshToken).toBeDefined();
    const sources: { headers?: Record<string, string>; search?: string }[] = [
      { headers: { authorization: `Bearer ${cookieRefreshToken}` } },
      { headers: { cookie: `accessToken=${cookieRefreshToken}` } },
      // ?token= counts on SSE requests only.
      { headers: { accept: 'text/event-stream' }, search: `?token=${encodeURIComponent(cookieRefreshToken)}` },
    ];
    for (const options of sources) {
      const response = await fetch(`${gateway.url}${options.search ?? ''}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const text = await response.text();
      const body = options.search ? eventStreamResults(text)[0]! : (JSON.parse(text) as { errors: { extensions: Record<string, unknown> }[] });
      expect(body.errors![0]!.extensions!.reason).toBe('TOKEN_INVALID');
    }
  });

  it('expires after its lifetime, with at most 5 s of clock tolerance', async () => {
    const token = await signWithGatewayKey({});
    const start = gateway.clock.now();
    try {
      gateway.clock.advance(600_000 + 4_000);
      expect((await me(token)).errors).toBeUndefined();
      gateway.clock.advance(2_000);
      const expired = await me(token);
      expect(expired.status).toBe(401);
      expect(errorReason(expired)).toBe('TOKEN_EXPIRED');
    } finally {
      gateway.clock.set(start);
    }
  });

  it.each([
    ['with the verified-token cache', undefined],
    ['without it', 0],
  ])('expires at the same instant %s', async (_label, verifiedCacheSize) => {
    const { signingKeys: keys, accessTokens: issuer } = gateway.services;
    const { issuer: iss, audience, accessTokenTtlSeconds: ttlSeconds } = gateway.config;
    const tokens = new AccessTokens({ keys, clock: gateway.clock, issuer: iss, audience, ttlSeconds, verifiedCacheSize });
    const start = gateway.clock.now();
    try {
      const { token, expiresAt } = await issuer.issue(userId, sessionId);
      expect((await tokens.verify(token)).sessionId).toBe(sessionId);
      gateway.clock.set(expiresAt + 5_000 - 1);
      expect((await tokens.verify(token)).expiresAt).toBe(expiresAt);
      gateway.clock.set(expiresAt + 5_000);
      await expect(tokens.verify(token)).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' } });
      // A token once verified is remembered by its exact text only: one changed byte is verified afresh.
      gateway.clock.set(start);
      const tampered = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
      await expect(tokens.verify(tampered)).rejects.toMatchObject({ extensions: { reason: 'TOKEN_INVALID' } });
    } finally {
      gateway.clock.set(start);
    }
  });

  it('refuses a token issued in the future', async () => {
    const now = Math.floor(gateway.clock.now() / 1000);
    const token = await signWithGatewayKey({ iat: now + 60, exp: now + 660 });
    expect(errorReason(await me(token))).toBe('TOKEN_INVALID');
  });
});

describe('credential sources', () => {
  const query = JSON.stringify({ query: '{ me { id } }' });
  const post = (headers: Record<string, string>, search = '') =>
    fetch(`${gateway.url}${search}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: query });
  /** What an SSE client asks for: the only requests on which ?token= counts. */
  const SSE = { accept: 'text/event-stream' };

  it('reads the header, then the cookie, then the token query parameter (of an SSE request)', async () => {
    for (const response of [await post({ authorization: `Bearer ${accessToken}` }), await post({ cookie: `accessToken=${accessToken}` })]) {
      expect(response.status).toBe(200);
      expect(((await response.json()) as { data: { me: { id: string } } }).data.me.id).toBe(userId);
    }
    const viaQuery = await post(SSE, `?token=${accessToken}`);
    expect(viaQuery.status).toBe(200);
    expect(eventStreamResults(await viaQuery.text())).toEqual([{ data: { me: { id: userId } } }]);
  });

  it('never falls back to the next source when the first one presented is invalid', async () => {
    const badHeader = await post({ ...SSE, authorization: 'Bearer forged', cookie: `accessToken=${accessToken}` }, `?token=${accessToken}`);
    expect(badHeader.status).toBe(401);
    const badCookie = await post({ ...SSE, cookie: 'accessToken=forged' }, `?token=${accessToken}`);
    expect(badCookie.status).toBe(401);
    // The refused cookie is cleared, so the browser's next sign-in is not blocked by it.
    expect(badCookie.headers.getSetCookie().some((c) => c.startsWith('accessToken=;') && /Max-Age=0/.test(c))).toBe(true);
  });

  it('refuses a malformed Authorization header instead of treating the caller as anonymous', async () => {
    for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b', `bearer${accessToken}`]) {
      const response = await post({ authorization });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { errors: { extensions: { reason: string } }[] }).errors[0]!.extensions.reason).toBe('TOKEN_INVALID');
    }
  });

  it('answers 401 with a bare challenge when no credential is sent to a protected field', async () => {
    const response = await post({});
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('keeps the token query parameter out of the logs', async () => {
    await post({}, `?token=${accessToken}`);
    await post({}, '?token=forged-secret-value');
    const logs = gateway.logs.join('');
    expect(logs).toContain('token=%5Bredacted%5D');
    expect(logs).not.toContain(accessToken);
    expect(logs).not.toContain('forged-secret-value');
  });
});

describe('ES256 signing keys', () => {
  it('signs with ES256 by default, keeps EdDSA tokens valid across the switch, and publishes no private member', async () => {
    const eddsa = await startTestGateway({ env: { JWT_ALGORITHM: 'EdDSA' } });
    let es256: TestGateway | undefined;
    try {
      const before = await new GraphQLClient(eddsa.url).request(RegisterDocument, {
        input: { username: 'switcher', password: PASSWORD, refreshTokenDelivery: 'BODY' },
      });
      const eddsaToken = before.data!.register.accessToken;
      await eddsa.close({ keepDatabase: true });

      es256 = await startTestGateway({ database: eddsa.database, now: new Date(eddsa.clock.now()) });
      const refreshed = await new GraphQLClient(es256.url).request(RefreshDocument, { refreshToken: before.data!.register.refreshToken });
      expect(refreshed.errors).toBeUndefined();
      const es256Token = refreshed.data!.refresh.accessToken;
      expect(decodeProtectedHeader(es256Token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      expect(decodeProtectedHeader(eddsaToken)).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });

      for (const token of [eddsaToken, es256Token]) {
        const me = await new GraphQLClient(es256.url, { authorization: `Bearer ${token}` }).request(MeDocument);
        expect(me.data?.me.username).toBe('switcher');
      }

      const jwks = (await (await fetch(`${es256.origin}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
      expect(jwks.keys.map((key) => key.alg).sort()).toEqual(['ES256', 'EdDSA']);
      const ec = jwks.keys.find((key) => key.alg === 'ES256')!;
      expect(ec).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', kid: decodeProtectedHeader(es256Token).kid });
      expect(Object.keys(ec).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      for (const key of jwks.keys) for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(member);
    } finally {
      await eddsa.close();
      // The second gateway owns the shared database once it runs, and drops it on close.
      if (es256) await es256.close();
      else await eddsa.database.drop();
    }
  });
});
