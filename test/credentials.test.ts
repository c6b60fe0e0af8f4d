import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { authCookiesOf, refreshTokenFromCookie } from '../src/credentials/auth-cookie-values.js';
import { presentedCredential, type CredentialSources } from '../src/credentials/credential-sources.js';
import { credentialSourcesOf } from '../src/credentials/http-credentials.js';
import { webSocketCredentialSources } from '../src/credentials/websocket-credentials.js';

/** What reading a credential came to: the credential (or undefined: none presented), or the refusal's extensions. */
type Outcome = string | undefined | { code: unknown; reason?: unknown; field?: unknown; status?: unknown };

function outcome(read: () => string | undefined): Outcome {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const { code, reason, field, http } = error.extensions as { code: unknown; reason?: unknown; field?: unknown; http?: { status?: unknown } };
    return { code, ...(reason === undefined ? {} : { reason }), ...(field === undefined ? {} : { field }), status: http?.status };
  }
}

const TOKEN_INVALID = { code: 'UNAUTHENTICATED', reason: 'TOKEN_INVALID', status: 401 };
const TOKEN_IN_URL = { code: 'BAD_USER_INPUT', field: 'token', status: 400 };

describe('presentedCredential', () => {
  it.each<[string, CredentialSources, Outcome]>([
    ['nothing presented', {}, undefined],
    ['all sources null', { authorization: null, cookieHeader: null, queryToken: null }, undefined],
    // Bearer forms (RFC 6750 §2.1: the scheme is case-insensitive).
    ['Bearer', { authorization: 'Bearer abc.def' }, 'abc.def'],
    ['lower-case scheme', { authorization: 'bearer abc' }, 'abc'],
    ['upper-case scheme', { authorization: 'BEARER abc' }, 'abc'],
    ['several spaces, trailing space', { authorization: 'Bearer   abc  ' }, 'abc'],
    // A malformed header is refused, never skipped for the next source.
    ['empty header', { authorization: '' }, TOKEN_INVALID],
    ['scheme without token', { authorization: 'Bearer' }, TOKEN_INVALID],
    ['scheme and space only', { authorization: 'Bearer ' }, TOKEN_INVALID],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }, TOKEN_INVALID],
    ['bare token', { authorization: 'abc' }, TOKEN_INVALID],
    ['two tokens', { authorization: 'Bearer abc def' }, TOKEN_INVALID],
    ['tab separator', { authorization: 'Bearer\tabc' }, TOKEN_INVALID],
    ['malformed header beside a cookie', { authorization: 'Basic x', cookieHeader: 'accessToken=cookie' }, TOKEN_INVALID],
    // Header, then cookie, then ?token=.
    ['header over cookie', { authorization: 'Bearer header', cookieHeader: 'accessToken=cookie' }, 'header'],
    ['header over query', { authorization: 'Bearer header', queryToken: 'query' }, 'header'],
    ['cookie', { cookieHeader: 'theme=dark; accessToken=cookie' }, 'cookie'],
    ['cookie over query', { cookieHeader: 'accessToken=cookie', queryToken: 'query' }, 'cookie'],
    ['an empty accessToken cookie is presented (and refused by the authenticator)', { cookieHeader: 'accessToken=', queryToken: 'query' }, ''],
    ['refreshToken cookie is no access credential', { cookieHeader: 'refreshToken=r', queryToken: 'query' }, 'query'],
    ['a name merely ending in accessToken', { cookieHeader: 'xaccessToken=other' }, undefined],
    ['first of two accessToken cookies', { cookieHeader: 'accessToken=first; accessToken=second' }, 'first'],
    ['percent-decoded cookie', { cookieHeader: 'accessToken=a%2Eb' }, 'a.b'],
    ['query', { queryToken: 'query' }, 'query'],
  ])('%s', (_name, sources, expected) => {
    expect(outcome(() => presentedCredential(sources))).toEqual(expected);
  });
});

describe('credentialSourcesOf (HTTP and SSE)', () => {
  const SSE = { accept: 'text/event-stream' };
  it.each<[string, string, string, Record<string, string>, Outcome]>([
    ['POST without query', 'POST', '/graphql', { authorization: 'Bearer header' }, 'header'],
    ['POST, query without token', 'POST', '/graphql?x=1', {}, undefined],
    // ?token= counts for SSE only; on any other request it is refused, whatever else is sent.
    ['SSE GET with ?token=', 'GET', '/graphql?query=subscription&token=query', SSE, 'query'],
    ['SSE POST with ?token=', 'POST', '/graphql?token=query', { accept: 'application/json, text/event-stream' }, 'query'],
    ['SSE with header and ?token=', 'POST', '/graphql?token=query', { ...SSE, authorization: 'Bearer header' }, 'header'],
    ['SSE with cookie and ?token=', 'POST', '/graphql?token=query', { ...SSE, cookie: 'accessToken=cookie' }, 'cookie'],
    ['POST with ?token=', 'POST', '/graphql?token=query', { accept: 'application/json' }, TOKEN_IN_URL],
    ['GET with ?token=', 'GET', '/graphql?query=%7Bme%7Bid%7D%7D&token=query', {}, TOKEN_IN_URL],
    ['POST with empty ?token=', 'POST', '/graphql?token=', {}, TOKEN_IN_URL],
    ['POST with ?token= beside a valid header', 'POST', '/graphql?token=query', { authorization: 'Bearer header' }, TOKEN_IN_URL],
  ])('%s', (_name, method, path, headers, expected) => {
    const request = new Request(`http://gateway${path}`, { method, headers });
    expect(outcome(() => presentedCredential(credentialSourcesOf(request)))).toEqual(expected);
  });
});

describe('webSocketCredentialSources', () => {
  const allowedOrigins = ['https://app.example'];
  const upgrade = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as IncomingMessage;
  const cookie = 'accessToken=cookie';

  it.each<[string, IncomingMessage, Record<string, unknown>, Outcome]>([
    ['nothing presented', upgrade('/graphql'), {}, undefined],
    // connectionParams: authorization (either spelling), else token.
    ['connectionParams.authorization', upgrade('/graphql'), { authorization: 'Bearer params' }, 'params'],
    ['connectionParams.Authorization', upgrade('/graphql'), { Authorization: 'Bearer params' }, 'params'],
    ['malformed authorization', upgrade('/graphql'), { authorization: 'params' }, TOKEN_INVALID],
    ['non-string authorization', upgrade('/graphql'), { authorization: 42 }, TOKEN_INVALID],
    ['object authorization', upgrade('/graphql'), { authorization: { token: 'x' } }, TOKEN_INVALID],
    ['malformed authorization beside a token', upgrade('/graphql'), { authorization: 'params', token: 'token' }, TOKEN_INVALID],
    ['null authorization falls through to token', upgrade('/graphql'), { authorization: null, token: 'token' }, 'token'],
    ['connectionParams.token', upgrade('/graphql'), { token: 'token' }, 'token'],
    ['non-string token', upgrade('/graphql'), { token: ['token'] }, TOKEN_INVALID],
    ['authorization over token', upgrade('/graphql'), { authorization: 'Bearer params', token: 'token' }, 'params'],
    // Then the URL, then the cookie.
    ['URL ?token=', upgrade('/graphql?token=url'), {}, 'url'],
    ['connectionParams over URL', upgrade('/graphql?token=url'), { token: 'token' }, 'token'],
    ['URL over cookie', upgrade('/graphql?token=url', { origin: 'https://app.example', cookie }), {}, 'url'],
    ['connectionParams over cookie', upgrade('/graphql', { origin: 'https://app.example', cookie }), { token: 'token' }, 'token'],
    // The cookie counts only from an allowed Origin (cross-site WebSocket hijacking).
    ['cookie from an allowed origin', upgrade('/graphql', { origin: 'https://app.example', cookie }), {}, 'cookie'],
    ['cookie from another origin', upgrade('/graphql', { origin: 'https://evil.example', cookie }), {}, undefined],
    ['cookie from a lookalike origin', upgrade('/graphql', { origin: 'https://app.example.evil', cookie }), {}, undefined],
    ['cookie without an origin', upgrade('/graphql', { cookie }), {}, undefined],
    ['allowed origin without a cookie', upgrade('/graphql', { origin: 'https://app.example' }), {}, undefined],
  ])('%s', (_name, request, connectionParams, expected) => {
    expect(outcome(() => presentedCredential(webSocketCredentialSources(request, connectionParams, allowedOrigins)))).toEqual(expected);
  });

  it('accepts no cookie when no origin is allowed', () => {
    const sources = webSocketCredentialSources(upgrade('/graphql', { origin: 'https://app.example', cookie }), {}, []);
    expect(presentedCredential(sources)).toBeUndefined();
  });
});

describe('authCookiesOf', () => {
  it.each<[string, string | null | undefined, { accessToken?: string; refreshToken?: string }]>([
    ['no header', null, {}],
    ['undefined header', undefined, {}],
    ['empty header', '', {}],
    ['other cookies only', 'theme=dark; lang=en', {}],
    ['both auth cookies', 'accessToken=a; theme=dark; refreshToken=r', { accessToken: 'a', refreshToken: 'r' }],
    ['refresh token alone', 'refreshToken=r', { refreshToken: 'r' }],
    ['case matters in names', 'AccessToken=a; REFRESHTOKEN=r', {}],
    ['first of duplicates', 'refreshToken=one; refreshToken=two', { refreshToken: 'one' }],
  ])('%s', (_name, header, expected) => {
    const cookies = authCookiesOf(header);
    expect({ accessToken: cookies.accessToken, refreshToken: cookies.refreshToken }).toEqual({ accessToken: undefined, refreshToken: undefined, ...expected });
    expect(refreshTokenFromCookie(header)).toBe(expected.refreshToken);
  });
});
