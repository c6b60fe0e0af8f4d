import { generateKeyPair, SignJWT, UnsecuredJWT, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeDocument, RegisterDocument } from '../src/client/operations.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

let gateway: TestGateway;
let accessToken: string;
let refreshToken: string;
let userId: string;
let sessionId: string;

beforeAll(async () => {
  gateway = await startTestGateway();
  const registered = await new GraphQLClient(gateway.url).request(RegisterDocument, {
    input: { username: 'verifier', password: 'correct horse battery staple', refreshTokenDelivery: 'BODY' },
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

/** Signs claims with the gateway's own key, so only the named defect is wrong. */
async function signWithGatewayKey(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const key = gateway.services.signingKeys.current;
  const now = Math.floor(gateway.clock.now() / 1000);
  const full = { type: 'access', sid: sessionId, sub: userId, jti: 'j-1', iss: gateway.config.issuer, aud: gateway.config.audience, iat: now, exp: now + 600, ...claims };
  for (const [name, value] of Object.entries(full)) if (value === undefined) delete (full as Record<string, unknown>)[name];
  return new SignJWT(full).setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey);
}

describe('access token verification', () => {
  it('accepts the genuine token and publishes its key without private members', async () => {
    expect((await me(accessToken)).data?.me.id).toBe(userId);
    const jwks = (await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    const header = decodeProtectedHeader(accessToken);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt' });
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kid: header.kid, kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    const discovery = (await (await fetch(`${gateway.origin}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({ issuer: gateway.config.issuer, jwks_uri: `${gateway.config.issuer}/.well-known/jwks.json` });
  });

  const forgeries: [string, () => Promise<string>][] = [
    ['alg none', async () => new UnsecuredJWT({ type: 'access', sid: sessionId, sub: userId, jti: 'x' }).setIssuer(gateway.config.issuer).setAudience(gateway.config.audience).setIssuedAt().setExpirationTime('10m').encode()],
    [
      'HS256 signed with the public JWK',
      async () => {
        const jwks = await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).text();
        const kid = decodeProtectedHeader(accessToken).kid!;
        const now = Math.floor(gateway.clock.now() / 1000);
        return new SignJWT({ type: 'access', sid: sessionId, sub: userId, jti: 'x', iss: gateway.config.issuer, aud: gateway.config.audience, iat: now, exp: now + 600 })
          .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
          .sign(new TextEncoder().encode(jwks));
      },
    ],
    [
      'an unknown kid',
      async () => {
        const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
        const now = Math.floor(gateway.clock.now() / 1000);
        return new SignJWT({ type: 'access', sid: sessionId, sub: userId, jti: 'x', iss: gateway.config.issuer, aud: gateway.config.audience, iat: now, exp: now + 600 })
          .setProtectedHeader({ alg: 'EdDSA', kid: 'attacker-key', typ: 'at+jwt' })
          .sign(privateKey);
      },
    ],
    [
      'our kid but another key',
      async () => {
        const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
        return new SignJWT({ type: 'access', sid: sessionId, sub: userId, jti: 'x' })
          .setProtectedHeader({ alg: 'EdDSA', kid: decodeProtectedHeader(accessToken).kid!, typ: 'at+jwt' })
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

  it('reads the header, then the cookie, then the token query parameter', async () => {
    for (const response of [
      await post({ authorization: `Bearer ${accessToken}` }),
      await post({ cookie: `accessToken=${accessToken}` }),
      await post({}, `?token=${accessToken}`),
    ]) {
      expect(response.status).toBe(200);
      expect(((await response.json()) as { data: { me: { id: string } } }).data.me.id).toBe(userId);
    }
  });

  it('never falls back to the next source when the first one presented is invalid', async () => {
    const badHeader = await post({ authorization: 'Bearer forged', cookie: `accessToken=${accessToken}` }, `?token=${accessToken}`);
    expect(badHeader.status).toBe(401);
    const badCookie = await post({ cookie: 'accessToken=forged' }, `?token=${accessToken}`);
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
