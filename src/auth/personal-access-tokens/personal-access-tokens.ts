import { randomUUID } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { BadUserInputError, NotFoundError } from '../../errors.js';
import type { SecurityEventClient, SecurityEventRecorder } from '../../security-events/security-event.js';
import { hashToken } from '../opaque-token.js';
import { displayPrefixOf, generatePersonalAccessToken } from './token-format.js';
import { parseScopes } from './token-scopes.js';
import type { PersonalAccessTokenRow, PersonalAccessTokenStore } from './token-store.js';

export const MAX_LIVE_PERSONAL_ACCESS_TOKENS = 50;
export const MAX_TOKEN_NAME_LENGTH = 100;
export const MAX_EXPIRES_IN_DAYS = 3650;
const DAY_MS = 24 * 3600 * 1000;
// Control characters would let a token name forge lines in a UI or a log; bidirectional
// overrides would let it show as something else than it is (CVE-2021-42574).
const CONTROL_OR_BIDI_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** A token as shown to its owner: never the secret or its hash. */
export interface PersonalAccessTokenView {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly prefix: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface NewPersonalAccessToken {
  readonly name: string;
  readonly scopes?: readonly string[] | null;
  readonly expiresInDays?: number | null;
}

export interface PersonalAccessTokensOptions {
  readonly store: PersonalAccessTokenStore;
  readonly clock: Clock;
  readonly maxLivePerUser?: number;
  /** Told of every token created and revoked (by id). */
  readonly securityEvents?: SecurityEventRecorder;
}

/** Creating, listing and revoking a user's personal access tokens. */
export class PersonalAccessTokens {
  readonly #store: PersonalAccessTokenStore;
  readonly #clock: Clock;
  readonly #maxLivePerUser: number;
  readonly #securityEvents: SecurityEventRecorder | undefined;

  constructor({ store, clock, maxLivePerUser = MAX_LIVE_PERSONAL_ACCESS_TOKENS, securityEvents }: PersonalAccessTokensOptions) {
    this.#store = store;
    this.#clock = clock;
    this.#maxLivePerUser = maxLivePerUser;
    this.#securityEvents = securityEvents;
  }

  /** Creates a token; the secret is returned here once and stored only as its SHA-256. */
  async create(
    userId: string,
    input: NewPersonalAccessToken,
    client?: SecurityEventClient,
  ): Promise<{ token: string; personalAccessToken: PersonalAccessTokenView }> {
    const name = parseTokenName(input.name);
    const scopes = parseScopes(input.scopes);
    const now = this.#clock.now();
    const expiresAt = expiryOf(input.expiresInDays, now);
    const token = generatePersonalAccessToken();
    const row: PersonalAccessTokenRow = {
      id: randomUUID(),
      user_id: userId,
      token_hash: hashToken(token),
      name,
      scopes: JSON.stringify(scopes),
      prefix: displayPrefixOf(token),
      created_at: now,
      expires_at: expiresAt,
      last_used_at: null,
      revoked_at: null,
    };
    if (!(await this.#store.insertWithinLimit(row, this.#maxLivePerUser))) {
      throw new BadUserInputError('input', `At most ${this.#maxLivePerUser} personal access tokens may be live at once; revoke one first`);
    }
    this.#securityEvents?.record({ event: 'pat.created', userId, tokenId: row.id, client });
    return { token, personalAccessToken: viewOf(row) };
  }

  /** A user's unrevoked tokens, newest first. */
  async list(userId: string): Promise<PersonalAccessTokenView[]> {
    return (await this.#store.listUnrevoked(userId)).map(viewOf);
  }

  /** Revokes one of the user's tokens. NOT_FOUND for an unknown, revoked or another user's id alike. */
  async revoke(userId: string, tokenId: string, client?: SecurityEventClient): Promise<void> {
    if (!(await this.#store.revoke(userId, tokenId))) throw new NotFoundError('Personal access token');
    this.#securityEvents?.record({ event: 'pat.revoked', userId, tokenId, client });
  }
}

function parseTokenName(raw: string): string {
  const name = raw.trim();
  if (name === '' || name.length > MAX_TOKEN_NAME_LENGTH || CONTROL_OR_BIDI_CHARACTERS.test(name)) {
    throw new BadUserInputError('name', `Name must be 1 to ${MAX_TOKEN_NAME_LENGTH} printable characters`);
  }
  return name;
}

function expiryOf(expiresInDays: number | null | undefined, now: number): number | null {
  if (expiresInDays === null || expiresInDays === undefined) return null;
  if (!Number.isInteger(expiresInDays) || expiresInDays < 1 || expiresInDays > MAX_EXPIRES_IN_DAYS) {
    throw new BadUserInputError('expiresInDays', `Expiry must be 1 to ${MAX_EXPIRES_IN_DAYS} days`);
  }
  return now + expiresInDays * DAY_MS;
}

function viewOf(row: PersonalAccessTokenRow): PersonalAccessTokenView {
  return {
    id: row.id,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    prefix: row.prefix,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}
