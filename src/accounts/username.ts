import { BadUserInputError } from '../errors.js';

const USERNAME_PATTERN = /^[a-zA-Z0-9_.-]{3,32}$/;

/** Validates a username (3 to 32 of a-z, A-Z, 0-9, _ . -) and returns it with its unique key. */
export function parseUsername(input: string, field = 'username'): { username: string; key: string } {
  if (!USERNAME_PATTERN.test(input)) {
    throw new BadUserInputError(field, 'Username must be 3 to 32 characters of letters, digits, "_", "." or "-"');
  }
  return { username: input, key: usernameKey(input) };
}

/**
 * The case-insensitive key under which a username is unique. ASCII letters only: Unicode
 * lower-casing folds other characters onto them (the Kelvin sign U+212A becomes "k"), which
 * would let a name no one could register sign in to an account that exists.
 */
export function usernameKey(username: string): string {
  return username.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}
