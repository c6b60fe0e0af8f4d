/**
 * What one revocation affects. Plain JSON data, so that it can cross instances. The same shape as
 * realtime's RevokedCredentials, so listeners can hand it on as it is.
 */
export interface Revocation {
  readonly userId: string;
  /**
   * Sessions whose access tokens must be refused from now on. With revokedBefore, only the
   * revoking instance has them (the unexpired sessions it wrote, for their REVOKED events): the
   * marker stands for them everywhere else, so the broadcast stays small.
   */
  readonly sessionIds?: readonly string[];
  /** Every session of the user that existed at this time (epoch ms) is revoked (logoutAll, changePassword)... */
  readonly revokedBefore?: number;
  /** ...except this one. */
  readonly exceptSessionId?: string;
  /** Personal access tokens (ids) revoked. */
  readonly tokenIds?: readonly string[];
  /** The account is gone: every credential of the user is refused, with USER_NOT_FOUND. */
  readonly userDeleted?: boolean;
  /**
   * The user's row changed (a rename): nothing is revoked, but every instance forgets its cached
   * copy (src/accounts/user-cache.ts). Carried here so that it reaches the other instances as fast
   * as a revocation, and as late as the catch-up when the broadcast is lost.
   */
  readonly userChanged?: boolean;
}

/**
 * Where a revocation was made: on this instance, or on another one and received over the
 * channel. Listeners that publish to a channel of their own that already spans instances (such
 * as sessionEvents) act on local revocations only, or every instance would publish the same event.
 */
export type RevocationOrigin = 'local' | 'remote';

/** Hears every revocation an instance learns of (Revocations#onRevoked). */
export type RevocationListener = (revocation: Revocation, origin: RevocationOrigin) => void;

/**
 * Hears every signing key revoked (Revocations#onSigningKeyRevoked), by kid. Keys belong to no
 * user, so they travel beside revocations rather than as one: the listeners of a Revocation
 * all act on a user.
 */
export type SigningKeyRevocationListener = (kid: string, origin: RevocationOrigin) => void;
