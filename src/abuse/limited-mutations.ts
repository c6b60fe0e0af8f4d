import type { RateLimitConfig } from '../config.js';

const HOUR_SECONDS = 3600;

/**
 * Whom a declared limit counts per. 'client' is the caller's IP address, or its /64 for IPv6;
 * 'account' the signed-in caller's user id (the limit is skipped for an anonymous caller, whom
 * the mutation's own authorization refuses anyway); `argument` the value of one of the
 * mutation's arguments, variables applied, where a dotted path reaches into input objects
 * (`input.username`). An argument's value is trimmed, and with `normalize: 'lowercase'` also
 * lower-cased, so that spellings of one address count together; a missing value counts under
 * one fixed key rather than escaping the limit. Values are hashed before they reach the store.
 */
export type LimitKey = 'client' | 'account' | { readonly argument: string; readonly normalize?: 'lowercase' };

/** A limit a mutation declares inline: `points` per `perSeconds` per key. */
export interface DeclaredLimit {
  readonly points: number;
  readonly perSeconds: number;
  readonly key: LimitKey;
  /**
   * 'window' (the default): at most `points` in each fixed window of `perSeconds`. 'bucket': a
   * token bucket, `points` at once and then one every perSeconds / points, so that no stretch of
   * `perSeconds` ever sees more than twice `points`.
   */
  readonly shape?: 'window' | 'bucket';
}

/** The token bucket every credential mutation of a client shares (RATE_LIMIT_CREDENTIALS_*). */
export const SHARED_CREDENTIALS_LIMIT = Object.freeze({ limit: 'credentials' } as const);

/** One limit of a mutation: the shared per-client bucket, or one of its own. */
export type MutationLimit = typeof SHARED_CREDENTIALS_LIMIT | DeclaredLimit;

/** Per limited mutation, the limits one occurrence counts against, in this order. */
export type LimitedMutations = Readonly<Record<string, readonly MutationLimit[]>>;

/**
 * The mutations worth guessing or harvesting through: those that check a password or a refresh
 * token, answer whether a username exists, or mint a credential. An operation may hold at most
 * one of them (src/plugins/use-credential-rate-limits.ts), and each counts against the limits
 * listed here before it runs, whatever it then answers. A new limit is one entry, e.g. for a
 * mutation `requestEmailCode(email)`:
 * `{ points: 2, perSeconds: 3600, key: { argument: 'email', normalize: 'lowercase' } }`.
 */
export function limitedMutations(config: RateLimitConfig): LimitedMutations {
  const credentials = SHARED_CREDENTIALS_LIMIT;
  return Object.freeze({
    register: [credentials, { points: config.registrationsPerHour, perSeconds: HOUR_SECONDS, key: 'client' }],
    login: [credentials],
    refresh: [credentials],
    changePassword: [credentials],
    deleteAccount: [credentials],
    // USERNAME_TAKEN tells whether an account exists: counted like register, and per account so
    // that one signed-in caller cannot probe from many addresses.
    updateUsername: [credentials, { points: config.usernameChangesPerHour, perSeconds: HOUR_SECONDS, key: 'account', shape: 'bucket' }],
    // Minting is bounded by the live tokens a user may hold; aliases must not mint several per request.
    createPersonalAccessToken: [],
    // Email codes (src/accounts/email-codes/): sending one, per address and per IP; checking one,
    // per address (per account for verifyEmail, which names none) and per IP. Each code is also
    // void after as many checks as the window allows (EmailCodes' maxAttempts).
    requestEmailCode: [credentials, ...emailCodeRequests(config, { argument: 'email', normalize: 'lowercase' })],
    updateEmail: [credentials, ...emailCodeRequests(config, { argument: 'email', normalize: 'lowercase' })],
    signInWithEmailCode: [credentials, ...emailCodeAttempts(config, { argument: 'email', normalize: 'lowercase' })],
    resetPassword: [credentials, ...emailCodeAttempts(config, { argument: 'email', normalize: 'lowercase' })],
    verifyEmail: [credentials, ...emailCodeAttempts(config, 'account')],
    // Single sign-on (src/sso/): each start stores a pending sign-in, each completion exchanges a
    // code with the provider. The browser routes (GET /auth/sso/...) count as these two.
    startSso: [credentials],
    completeSso: [credentials],
    linkSsoIdentity: [credentials],
  } satisfies LimitedMutations);
}

/** RATE_LIMIT_EMAIL_CODE_REQUESTS_PER_HOUR per address (or account) and per client IP. */
function emailCodeRequests(config: RateLimitConfig, key: LimitKey): DeclaredLimit[] {
  return [
    { points: config.emailCodeRequestsPerHour, perSeconds: HOUR_SECONDS, key },
    { points: config.emailCodeRequestsPerHour, perSeconds: HOUR_SECONDS, key: 'client' },
  ];
}

/** RATE_LIMIT_EMAIL_CODE_ATTEMPTS per RATE_LIMIT_EMAIL_CODE_ATTEMPT_WINDOW_SECONDS, per address (or account) and per client IP. */
function emailCodeAttempts(config: RateLimitConfig, key: LimitKey): DeclaredLimit[] {
  const { emailCodeAttempts: points, emailCodeAttemptWindowSeconds: perSeconds } = config;
  return [
    { points, perSeconds, key },
    { points, perSeconds, key: 'client' },
  ];
}

/**
 * The table with more limits: each mutation's entries appended to its own (a mutation the table
 * does not hold becomes a limited mutation). For embedding code:
 * `limitedMutations: (table) => withLimits(table, { requestEmailCode: [{ points: 2, perSeconds: 3600, key: { argument: 'email', normalize: 'lowercase' } }] })`.
 */
export function withLimits(table: LimitedMutations, more: LimitedMutations): LimitedMutations {
  const merged: Record<string, readonly MutationLimit[]> = { ...table };
  for (const [mutation, limits] of Object.entries(more)) merged[mutation] = [...(merged[mutation] ?? []), ...limits];
  return Object.freeze(merged);
}
