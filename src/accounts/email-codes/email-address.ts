import { BadUserInputError } from '../../errors.js';

/** RFC 5321: a path holds at most 256 octets, less the angle brackets. */
export const MAX_EMAIL_LENGTH = 254;

/**
 * A dot-atom local part (RFC 5322) and a host name of two or more labels, ASCII only: quoted local
 * parts and address literals are legal but are no one's sign-in address, and non-ASCII would need
 * Unicode case folding for the key, which folds characters onto ASCII ones (as for usernames).
 */
const EMAIL_PATTERN =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** An address as typed (trimmed), and the key it is unique and looked up under. */
export interface EmailAddress {
  readonly email: string;
  readonly key: string;
}

/** Validates an email address; BAD_USER_INPUT naming `field` when it is not one. */
export function parseEmailAddress(input: string, field = 'email'): EmailAddress {
  const email = input.trim();
  const local = email.slice(0, email.lastIndexOf('@'));
  if (email.length > MAX_EMAIL_LENGTH || local.length > 64 || !EMAIL_PATTERN.test(email)) {
    throw new BadUserInputError(field, 'Not an email address');
  }
  return { email, key: emailKey(email) };
}

/**
 * The case-insensitive key of an address: ASCII letters lower-cased, as the rate limits count it
 * (src/abuse/limit-key.ts lower-cases the argument) and as mail systems treat addresses in practice.
 */
export function emailKey(email: string): string {
  return email.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}
