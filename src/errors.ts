import { GraphQLError, type GraphQLErrorExtensions } from 'graphql';

/** The error codes of the public contract (extensions.code). */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CREDENTIALS'
  | 'USERNAME_TAKEN'
  | 'INVALID_CODE'
  | 'EMAIL_TAKEN'
  | 'RATE_LIMITED'
  | 'NOT_FOUND'
  | 'SSO_FAILED'
  | 'INTERNAL';

/** Why a credential was refused (extensions.reason of UNAUTHENTICATED). */
export type UnauthenticatedReason = 'TOKEN_MISSING' | 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'SESSION_REVOKED' | 'USER_NOT_FOUND' | 'REFRESH_TOKEN_REUSED';

interface HttpExtension {
  status?: number;
  headers?: Record<string, string>;
}

declare module 'graphql' {
  interface GraphQLErrorExtensions {
    code?: ErrorCode | string;
    http?: HttpExtension;
  }
}

/**
 * Base of every error the gateway shows to clients. Messages are fixed per failure and never
 * carry a token, password, hash or key.
 */
export abstract class GatewayError extends GraphQLError {
  abstract readonly code: ErrorCode;
  constructor(message: string, extensions: GraphQLErrorExtensions) {
    super(message, { extensions });
  }
}

const UNAUTHENTICATED_MESSAGES: Record<UnauthenticatedReason, string> = {
  TOKEN_MISSING: 'Authentication required',
  TOKEN_INVALID: 'The credential is invalid',
  TOKEN_EXPIRED: 'The credential has expired',
  SESSION_REVOKED: 'The session has been revoked',
  USER_NOT_FOUND: 'The account no longer exists',
  REFRESH_TOKEN_REUSED: 'The refresh token was already used; the session has been revoked',
};

/** RFC 6750 §3: a refused credential gets error="invalid_token"; a missing one gets no error. */
function bearerChallenge(reason: UnauthenticatedReason): string {
  return reason === 'TOKEN_MISSING' ? 'Bearer' : 'Bearer error="invalid_token"';
}

export class UnauthenticatedError extends GatewayError {
  readonly code = 'UNAUTHENTICATED';
  constructor(readonly reason: UnauthenticatedReason) {
    super(UNAUTHENTICATED_MESSAGES[reason], {
      code: 'UNAUTHENTICATED',
      reason,
      http: { status: 401, headers: { 'WWW-Authenticate': bearerChallenge(reason) } },
    });
  }
}

export class ForbiddenError extends GatewayError {
  readonly code = 'FORBIDDEN';
  constructor(message = 'This credential may not perform this operation', requiredScopes?: readonly string[]) {
    super(message, {
      code: 'FORBIDDEN',
      ...(requiredScopes && requiredScopes.length > 0 ? { requiredScopes: [...requiredScopes] } : {}),
      http: { status: 403 },
    });
  }
}

export class BadUserInputError extends GatewayError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message, { code: 'BAD_USER_INPUT', field });
  }
}

export class InvalidCredentialsError extends GatewayError {
  readonly code = 'INVALID_CREDENTIALS';
  constructor() {
    super('Invalid username or password', { code: 'INVALID_CREDENTIALS' });
  }
}

export class UsernameTakenError extends GatewayError {
  readonly code = 'USERNAME_TAKEN';
  constructor() {
    super('That username is already taken', { code: 'USERNAME_TAKEN', field: 'username' });
  }
}

/**
 * An email code refused: wrong, expired, consumed, replaced by a newer one, void after too many
 * attempts, or sent for no account. One answer for all, so that it tells nothing of which.
 */
export class InvalidCodeError extends GatewayError {
  readonly code = 'INVALID_CODE';
  constructor() {
    super('The code is invalid or has expired', { code: 'INVALID_CODE', field: 'code' });
  }
}

/**
 * The address being verified is already another account's verified address. Only the holder of
 * a code sent to it, its owner, can be told so; claiming an address never tells.
 */
export class EmailTakenError extends GatewayError {
  readonly code = 'EMAIL_TAKEN';
  constructor() {
    super('That email address already belongs to another account', { code: 'EMAIL_TAKEN', field: 'email' });
  }
}

export class NotFoundError extends GatewayError {
  readonly code = 'NOT_FOUND';
  constructor(what: string) {
    super(`${what} not found`, { code: 'NOT_FOUND' });
  }
}

export class RateLimitedError extends GatewayError {
  readonly code = 'RATE_LIMITED';
  constructor(
    readonly retryAfterSeconds: number,
    message = 'Too many requests; try again later',
  ) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
    super(message, {
      code: 'RATE_LIMITED',
      retryAfter,
      http: { status: 429, headers: { 'Retry-After': String(retryAfter) } },
    });
  }
}

/**
 * Why a single sign-on failed (extensions.reason of SSO_FAILED). STATE_INVALID: the state is
 * unknown, used, expired, or was started for another provider, purpose or account; REJECTED:
 * the provider refused, or what it answered did not verify (the detail is logged, never shown);
 * PROVIDER_UNAVAILABLE: the provider could not be reached; IDENTITY_TAKEN: the identity belongs
 * to another account; ALREADY_LINKED: the account has another identity at that provider.
 */
export type SsoFailureReason = 'STATE_INVALID' | 'REJECTED' | 'PROVIDER_UNAVAILABLE' | 'IDENTITY_TAKEN' | 'ALREADY_LINKED';

const SSO_FAILURE_MESSAGES: Record<SsoFailureReason, string> = {
  STATE_INVALID: 'The sign-in has expired or was already completed; start again',
  REJECTED: 'The sign-in provider did not confirm the sign-in',
  PROVIDER_UNAVAILABLE: 'The sign-in provider is unavailable; try again later',
  IDENTITY_TAKEN: 'This identity is linked to another account',
  ALREADY_LINKED: 'The account is already linked to an identity at this provider',
};

export class SsoError extends GatewayError {
  readonly code = 'SSO_FAILED';
  constructor(readonly reason: SsoFailureReason) {
    // The provider being down is the one failure that is neither the client's nor final.
    super(SSO_FAILURE_MESSAGES[reason], { code: 'SSO_FAILED', reason, ...(reason === 'PROVIDER_UNAVAILABLE' ? { http: { status: 503 } } : {}) });
  }
}

/** unlinkSsoIdentity refused: the account would have no way left to sign in. */
export class LastSignInMethodError extends GatewayError {
  readonly code = 'BAD_USER_INPUT';
  constructor() {
    super('The account would have no way left to sign in; set a password or link another identity first', {
      code: 'BAD_USER_INPUT',
      field: 'provider',
      reason: 'LAST_SIGN_IN_METHOD',
    });
  }
}

/** What clients see in place of any unexpected error: no message, no stack, no internals. */
export function internalError(): GraphQLError {
  return new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL' } });
}
