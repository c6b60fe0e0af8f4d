import { randomInt } from 'node:crypto';

/** An ID token's or a userinfo answer's claims: preferred_username, email and name are read (OpenID Connect Core §5.1). */
export type NameClaims = Readonly<Record<string, unknown>>;

/** When the provider says nothing usable. */
export const FALLBACK_USERNAME = 'user';
const MIN_LENGTH = 3;
const MAX_LENGTH = 32;

/**
 * The username a first single sign-on proposes for its new account: the first of
 * preferred_username, the local part of email, and name that still has three characters once
 * cut to the username rules (src/accounts/username.ts: 3 to 32 of a-z, A-Z, 0-9, _ . -). Accents
 * are dropped, spaces become "_", anything else not allowed goes. It is only a proposal: the
 * user may rename the account, and a name that is taken gets a suffix (withSuffix).
 */
export function proposedUsername(claims: NameClaims): string {
  for (const claim of [claims.preferred_username, claims.email, claims.name]) {
    if (typeof claim !== 'string') continue;
    // An address in preferred_username too (some providers put one there): its local part.
    const candidate = sanitize(claim.includes('@') ? claim.slice(0, claim.lastIndexOf('@')) : claim);
    if (candidate.length >= MIN_LENGTH) return candidate;
  }
  return FALLBACK_USERNAME;
}

/** `base` with a random four-digit suffix, still within the username rules: for a name that is taken. */
export function withSuffix(base: string): string {
  const suffix = `_${randomInt(1000, 10000)}`;
  return base.slice(0, MAX_LENGTH - suffix.length) + suffix;
}

function sanitize(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .trim()
    .replace(/\s+/g, '_')
    .replace(/[^a-zA-Z0-9_.-]+/g, '')
    .slice(0, MAX_LENGTH);
}
