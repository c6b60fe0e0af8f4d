import { parseUsername } from '../accounts/username.js';

/**
 * The attempted username of a sign-in, as it may be logged. ASVS V7.2.1 and the OWASP logging
 * cheat sheet want the attempted identity of a failed sign-in, also for accounts that do not
 * exist (spraying and enumeration show only there), but the username field sometimes receives
 * a password typed into the wrong box. A string that could not be a username (3 to 32 of
 * a-z, A-Z, 0-9, _ . -) is therefore never logged: most passwords have spaces or symbols.
 */
export function attemptedUsername(input: string | null | undefined): string | null {
  if (input === null || input === undefined) return null;
  try {
    return parseUsername(input).username;
  } catch {
    return null;
  }
}
