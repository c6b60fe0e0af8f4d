import { decodeJwt } from 'jose';
import { MeDocument, RefreshDocument } from '../client/src/operations.js';
import { RESERVED_ACCESS_TOKEN_CLAIMS } from '../src/hooks.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { describe, expect, PASSWORD, register, signIn, test } from './helpers/fixtures.js';

describe('the accessTokenClaims hook', () => {
  const seen: { userId: string; sessionId: string }[] = [];
  test.override({
    gatewayOptions: {
      hooks: {
        accessTokenClaims: async (subject) => {
          seen.push(subject);
          const hostile = Object.fromEntries(RESERVED_ACCESS_TOKEN_CLAIMS.map((name) => [name, 'forged']));
          return { ...hostile, tenant: 'acme', roles: ['admin'] };
        },
      },
    },
  });

  test('adds its claims to every access token issued (registration, login, refresh), for the session at hand', async ({ gateway }) => {
    seen.length = 0;
    const registered = await register(gateway, 'alice');
    const loggedIn = await signIn(gateway, 'alice');
    const refreshed = (await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: loggedIn.refreshToken })).data!.refresh;
    for (const token of [registered.accessToken, loggedIn.accessToken, refreshed.accessToken]) {
      expect(decodeJwt(token)).toMatchObject({ tenant: 'acme', roles: ['admin'] });
    }
    expect(seen).toEqual([
      { userId: registered.user.id, sessionId: registered.session.id },
      { userId: registered.user.id, sessionId: loggedIn.session.id },
      { userId: registered.user.id, sessionId: loggedIn.session.id },
    ]);
  });

  test('cannot override the claims the gateway sets: the token still verifies and names its own user and session', async ({ gateway, signedIn }) => {
    const claims = decodeJwt(signedIn.accessToken);
    expect(claims.iss).toBe(gateway.config.issuer);
    expect(claims.aud).toBe(gateway.config.audience);
    expect(claims.sub).toBe(signedIn.user.id);
    expect(claims.sid).toBe(signedIn.session.id);
    expect(claims.type).toBe('access');
    expect(claims.nbf).toBeUndefined();
    for (const name of ['exp', 'iat']) expect(typeof claims[name]).toBe('number');
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const me = await signedIn.client.request(MeDocument);
    expect(me.data?.me.id).toBe(signedIn.user.id);
  });
});

describe('a hook that throws', () => {
  test.override({ gatewayOptions: { hooks: { accessTokenClaims: () => Promise.reject(new Error('claims source down')) } } });

  test('fails the sign-in with a masked error: no session is handed out without its claims', async ({ gateway }) => {
    await expect(register(gateway, 'alice')).rejects.toThrow(/INTERNAL/);
    expect(gateway.logs.join('\n')).not.toContain(PASSWORD);
  });
});

describe('without hooks', () => {
  test('access tokens carry only the gateway’s claims', async ({ signedIn }) => {
    expect(Object.keys(decodeJwt(signedIn.accessToken)).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub', 'type']);
  });
});
