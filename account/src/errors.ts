import { GraphQLRequestError, NotSignedInError, type SignedOutReason } from '../../client/src/index.js';

/** A failure in words for the person at the page, and the form field it is about, if any. */
export interface Described {
  readonly message: string;
  readonly field?: string;
}

/** A failure the page words itself. */
export class PageError extends Error {
  override readonly name = 'PageError';
}

/** What went wrong, from the gateway's error code (never its internals: those are masked anyway). */
export function describeError(error: unknown): Described {
  if (error instanceof PageError) return { message: error.message };
  if (error instanceof GraphQLRequestError) {
    const extensions = error.errors[0]?.extensions ?? {};
    switch (error.code) {
      case 'INVALID_CREDENTIALS':
        return { message: 'Wrong username or password.', field: 'password' };
      case 'USERNAME_TAKEN':
        return { message: 'That username is taken; choose another.', field: 'username' };
      case 'RATE_LIMITED': {
        const retryAfter = typeof extensions.retryAfter === 'number' ? ` Try again in ${Math.ceil(extensions.retryAfter)} seconds.` : ' Try again later.';
        return { message: `Too many attempts.${retryAfter}` };
      }
      case 'BAD_USER_INPUT':
        // The gateway's own words: they name the rule (length, characters) and are written for people.
        return { message: error.message, field: typeof extensions.field === 'string' ? extensions.field : undefined };
      case 'UNAUTHENTICATED':
        return { message: unauthenticatedMessage(error.reason) };
      case 'FORBIDDEN':
        return { message: 'This session is not allowed to do that.' };
      default:
        return { message: `The gateway could not do that (${error.code ?? `HTTP ${error.status}`}). Try again.` };
    }
  }
  if (error instanceof NotSignedInError) return { message: 'You are signed out.' };
  // fetch rejects with a TypeError when the gateway cannot be reached or CORS refuses the answer.
  if (error instanceof TypeError) return { message: 'Cannot reach the gateway. Check the connection and try again.' };
  return { message: 'Something went wrong. Try again.' };
}

function unauthenticatedMessage(reason: string | undefined): string {
  if (reason === 'TOKEN_MISSING') return cookiesNotSentMessage();
  return 'Your session has ended. Sign in again.';
}

/**
 * The mistake the gateway cannot see: sign-in succeeded, its cookies were set, and the browser
 * never sent them back because the page and the gateway are on different sites (a page on
 * localhost and a gateway on 127.0.0.1 are).
 */
export function cookiesNotSentMessage(): string {
  return (
    'You signed in, but the browser did not send the gateway its cookies back. Cookie sign-in needs this page and the gateway on the same site: ' +
    'open the page on the same host name as the gateway (both on 127.0.0.1, or both on localhost), and make sure the browser accepts cookies.'
  );
}

/** Why the page is back at the sign-in form. */
export function signedOutMessage(reason: SignedOutReason): string {
  switch (reason) {
    case 'SIGNED_OUT':
      return 'You are signed out.';
    case 'SESSION_REVOKED':
      return 'This device was signed out (from another device, or by a password change). Sign in again.';
    case 'REFRESH_TOKEN_REUSED':
      return 'Your session was ended because its refresh token was used twice, which can mean it was stolen. Sign in again.';
    case 'USER_NOT_FOUND':
      return 'This account no longer exists.';
    case 'REFRESH_FAILED':
      return 'Your session has expired. Sign in again.';
  }
}
