/** Limits counted per client: its IP address, or its /64 for IPv6. */
export type ClientLimit =
  /** The token bucket every credential mutation of a client shares (RATE_LIMIT_CREDENTIALS_*). */
  | 'credentials'
  /** register calls per client per hour (RATE_LIMIT_REGISTRATIONS_PER_HOUR). */
  | 'registrations';

/** Limits counted per account: the caller's user id. */
export type AccountLimit =
  /** updateUsername calls per account per hour (RATE_LIMIT_USERNAME_CHANGES_PER_HOUR). */
  'usernameChanges';

/** What one occurrence of a limited mutation counts against, in this order. */
export interface MutationLimits {
  readonly perClient: readonly ClientLimit[];
  /** Skipped for an anonymous caller, whom the mutation's own authorization refuses anyway. */
  readonly perAccount: readonly AccountLimit[];
}

/**
 * The mutations worth guessing or harvesting through: those that check a password or a refresh
 * token, answer whether a username exists, or mint a credential. An operation may hold at most
 * one of them (src/plugins/use-credential-rate-limits.ts), and each counts against the limits
 * listed here before it runs, whatever it then answers.
 */
export const LIMITED_MUTATIONS: Readonly<Record<string, MutationLimits>> = Object.freeze({
  register: { perClient: ['credentials', 'registrations'], perAccount: [] },
  login: { perClient: ['credentials'], perAccount: [] },
  refresh: { perClient: ['credentials'], perAccount: [] },
  changePassword: { perClient: ['credentials'], perAccount: [] },
  deleteAccount: { perClient: ['credentials'], perAccount: [] },
  // USERNAME_TAKEN tells whether an account exists: counted like register, and per account so
  // that one signed-in caller cannot probe from many addresses.
  updateUsername: { perClient: ['credentials'], perAccount: ['usernameChanges'] },
  // Minting is bounded by the live tokens a user may hold; aliases must not mint several per request.
  createPersonalAccessToken: { perClient: [], perAccount: [] },
});
