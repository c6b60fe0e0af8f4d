import { parse, serialize } from 'cookie';
import { DEFAULT_PENDING_LOGIN_TTL_MS } from './pending-logins.js';

export const SSO_BINDING_COOKIE = 'ssoBinding';
/** The routes of the browser flow: the only path the cookie is sent to. */
export const SSO_ROUTES_PATH = '/auth/sso';

/**
 * The cookie that ties a browser sign-in to the browser that started it: its value is random, its
 * hash is stored with the pending sign-in, and the callback is refused without it. Otherwise
 * anyone could start a sign-in, sign in at the provider as themselves, and send a victim the
 * callback link: the victim's browser would be signed in to the attacker's account (login CSRF).
 *
 * SameSite=Lax, not Strict like the auth cookies: the callback is a top-level navigation from the
 * provider's site, which Lax cookies accompany and Strict ones do not.
 */
export class SsoBindingCookie {
  readonly #secure: boolean;

  constructor({ secure }: { readonly secure: boolean }) {
    this.#secure = secure;
  }

  /** Set-Cookie for a started sign-in, living as long as it may take. */
  set(value: string): string {
    return serialize(SSO_BINDING_COOKIE, value, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.#secure,
      path: SSO_ROUTES_PATH,
      maxAge: DEFAULT_PENDING_LOGIN_TTL_MS / 1000,
    });
  }

  /** Set-Cookie that removes it, once the callback has used it. */
  clear(): string {
    return serialize(SSO_BINDING_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: this.#secure, path: SSO_ROUTES_PATH, maxAge: 0 });
  }

  /** The value a request carries; undefined without one. */
  read(cookieHeader: string | null): string | undefined {
    if (!cookieHeader) return undefined;
    return parse(cookieHeader)[SSO_BINDING_COOKIE] || undefined;
  }
}
