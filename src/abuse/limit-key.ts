import { createHash } from 'node:crypto';
import { clientKey } from './client-key.js';
import type { LimitKey } from './limited-mutations.js';

/** Who, and with what arguments, a limited mutation is counted for. */
export interface MutationCaller {
  readonly clientIp: string | null;
  /** The signed-in caller's user id; undefined for an anonymous one. */
  readonly userId: string | undefined;
  /** The mutation field's argument values, variables applied (src/abuse/mutation-arguments.ts). */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** What an argument limit counts a missing (absent or null) value under: one key for all of them. */
const MISSING_ARGUMENT = 'missing';

/** The part of a limiter's store prefix that names its key: `client`, `account` or `argument.<path>`. */
export function limitKeyName(key: LimitKey): string {
  return typeof key === 'string' ? key : `argument.${key.argument}`;
}

/**
 * The key one call counts under for a declared limit; undefined when the limit does not apply
 * (an account limit for an anonymous caller).
 */
export function limitKeyFor(key: LimitKey, { clientIp, userId, arguments: args = {} }: MutationCaller): string | undefined {
  if (key === 'client') return clientKey(clientIp);
  if (key === 'account') return userId;
  const value = argumentAt(args, key.argument);
  if (value === undefined || value === null) return MISSING_ARGUMENT;
  let text = typeof value === 'string' ? value.trim() : JSON.stringify(value);
  if (key.normalize === 'lowercase') text = text.toLowerCase();
  // Hashed: argument values (email addresses, usernames) are the caller's data and have no
  // business in a shared store, and a hash bounds the key's length whatever was sent.
  return createHash('sha256').update(text).digest('base64url');
}

/** The value at a dotted path (`input.username`) of the argument values; undefined where any step is missing. */
function argumentAt(args: Readonly<Record<string, unknown>>, path: string): unknown {
  let value: unknown = args;
  for (const step of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, step)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}
