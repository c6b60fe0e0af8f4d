import { parseCookie } from 'cookie';
import { ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE } from '../sessions/auth-cookies.js';

/** The auth cookies a request carries; a name absent from the Cookie header is undefined. */
export interface AuthCookieValues {
  readonly accessToken?: string;
  readonly refreshToken?: string;
}

/**
 * The auth cookies of a Cookie header. Every read of the header goes through here, so that the
 * credential, the refresh and the Fetch Metadata check agree on what a request carries (the
 * first of two cookies with one name wins, values are percent-decoded). Writing them is
 * sessions/auth-cookies.ts's job.
 */
export function authCookiesOf(cookieHeader: string | null | undefined): AuthCookieValues {
  if (!cookieHeader) return {};
  const cookies = parseCookie(cookieHeader);
  return { accessToken: cookies[ACCESS_TOKEN_COOKIE], refreshToken: cookies[REFRESH_TOKEN_COOKIE] };
}

/** The refresh token of a Cookie header, what `refresh` rotates when called without the argument. */
export function refreshTokenFromCookie(cookieHeader: string | null | undefined): string | undefined {
  return authCookiesOf(cookieHeader).refreshToken;
}
