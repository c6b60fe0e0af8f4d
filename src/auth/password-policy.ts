import { BadUserInputError } from '../errors.js';

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;
/** Raw input beyond this is refused before normalisation, which can itself expand a string. */
const MAX_RAW_PASSWORD_UNITS = MAX_PASSWORD_LENGTH * 4;

/**
 * NIST SP 800-63B: length only, no composition rules, no truncation. The password is NFKC
 * normalised so that the same characters typed on different keyboards give the same hash.
 * Returns the normalised password, or throws BAD_USER_INPUT naming the field.
 */
export function normalizePassword(password: string, field = 'password'): string {
  if (password.length > MAX_RAW_PASSWORD_UNITS) throw tooLong(field);
  const normalized = password.normalize('NFKC');
  const length = [...normalized].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new BadUserInputError(field, `Password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (length > MAX_PASSWORD_LENGTH) throw tooLong(field);
  return normalized;
}

function tooLong(field: string): BadUserInputError {
  return new BadUserInputError(field, `Password must be at most ${MAX_PASSWORD_LENGTH} characters`);
}
