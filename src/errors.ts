import { GraphQLError, type GraphQLErrorExtensions } from 'graphql';

/** The error codes of the public contract (extensions.code). */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'INVALID_CREDENTIALS'
  | 'USERNAME_TAKEN'
  | 'RATE_LIMITED'
  | 'NOT_FOUND'
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

/** What clients see in place of any unexpected error: no message, no stack, no internals. */
export function internalError(): GraphQLError {
  return new GraphQLError('Internal server error', { extensions: { code: 'INTERNAL' } });
}
