import { serialize, type SerializeOptions } from 'cookie';

export const REFRESH_TOKEN_COOKIE = 'refreshToken';
export const ACCESS_TOKEN_COOKIE = 'accessToken';

export interface AuthCookiesOptions {
  /** The GraphQL path: the only path the browser sends the cookies to. */
  readonly path: string;
  readonly secure: boolean;
}

/**
 * The attributes of the two auth cookies, in one place: httpOnly so scripts never read them,
 * SameSite=Strict so no other site's request carries them, Secure in production.
 */
export class AuthCookies {
  readonly #base: SerializeOptions;

  constructor({ path, secure }: AuthCookiesOptions) {
    this.#base = Object.freeze({ httpOnly: true, sameSite: 'strict', secure, path });
  }

  /** Set-Cookie for the refresh token, living as long as the token. */
  refreshToken(token: string, expiresAt: number, now: number): string {
    return this.#set(REFRESH_TOKEN_COOKIE, token, expiresAt, now);
  }

  /** Set-Cookie for the access token, living as long as the token. */
  accessToken(token: string, expiresAt: number, now: number): string {
    return this.#set(ACCESS_TOKEN_COOKIE, token, expiresAt, now);
  }

  /** Set-Cookie headers that remove both cookies. */
  clear(): string[] {
    return [REFRESH_TOKEN_COOKIE, ACCESS_TOKEN_COOKIE].map((name) => serialize(name, '', { ...this.#base, maxAge: 0 }));
  }

  /** Set-Cookie that removes the access token cookie alone. */
  clearAccessToken(): string {
    return serialize(ACCESS_TOKEN_COOKIE, '', { ...this.#base, maxAge: 0 });
  }

  #set(name: string, value: string, expiresAt: number, now: number): string {
    // Whole seconds on both sides: JWT times are whole seconds, so the cookie ends with the token.
    return serialize(name, value, { ...this.#base, maxAge: Math.max(0, Math.floor(expiresAt / 1000) - Math.floor(now / 1000)) });
  }
}
