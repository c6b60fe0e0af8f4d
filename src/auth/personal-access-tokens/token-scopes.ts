import { BadUserInputError } from '../../errors.js';

/** The scopes the gateway itself checks, and what each one allows. */
export const GATEWAY_SCOPES = Object.freeze({
  'profile:read': 'me',
  'profile:write': 'updateUsername',
  'sessions:read': 'devices, sessionEvents',
  'tokens:read': 'personalAccessTokens',
} as const);

export type GatewayScope = keyof typeof GATEWAY_SCOPES;

/** What a token gets when its creator names no scopes. */
export const DEFAULT_PERSONAL_ACCESS_TOKEN_SCOPES: readonly string[] = Object.freeze(['profile:read']);
export const MAX_SCOPES_PER_TOKEN = 50;
export const MAX_SCOPE_LENGTH = 100;

/**
 * Application scopes, which the gateway hands to subgraphs unchecked: `app`, `orders:read`,
 * `billing:invoices:*`. A lower-case name, then colon-separated segments.
 */
export const APPLICATION_SCOPE_PATTERN = /^[a-z][a-z0-9_-]*(:[a-z0-9_*-]+)*$/;

// Scopes in the gateway's own namespaces must be ones it knows: `profile:admin` is a typo or a
// misunderstanding, never an application scope.
const GATEWAY_NAMESPACES = new Set(Object.keys(GATEWAY_SCOPES).map((scope) => scope.split(':')[0]));

/**
 * The scopes a new token is given: the default when none are named, else the named ones,
 * each known or a well-formed application scope, without duplicates, in the order given.
 * BAD_USER_INPUT on field `scopes` otherwise.
 */
export function parseScopes(requested: readonly string[] | null | undefined): string[] {
  if (requested === null || requested === undefined) return [...DEFAULT_PERSONAL_ACCESS_TOKEN_SCOPES];
  if (requested.length === 0) throw new BadUserInputError('scopes', 'A token needs at least one scope');
  const scopes = [...new Set(requested)];
  if (scopes.length > MAX_SCOPES_PER_TOKEN) throw new BadUserInputError('scopes', `A token may have at most ${MAX_SCOPES_PER_TOKEN} scopes`);
  for (const scope of scopes) {
    const problem = problemWith(scope);
    if (problem !== undefined) throw new BadUserInputError('scopes', problem);
  }
  return scopes;
}

/** Why a scope is refused, in words that say how to fix it; undefined for a valid scope. */
function problemWith(scope: string): string | undefined {
  const shown = JSON.stringify(scope.length > 40 ? `${scope.slice(0, 40)}…` : scope);
  if (scope.length > MAX_SCOPE_LENGTH) return `Scope ${shown} is longer than ${MAX_SCOPE_LENGTH} characters`;
  if (!APPLICATION_SCOPE_PATTERN.test(scope)) {
    return `Scope ${shown} is malformed: it must match ${APPLICATION_SCOPE_PATTERN.source} (a lower-case name, then :-separated segments)`;
  }
  const namespace = scope.split(':')[0]!;
  if (GATEWAY_NAMESPACES.has(namespace) && !Object.hasOwn(GATEWAY_SCOPES, scope)) {
    const known = Object.keys(GATEWAY_SCOPES).filter((known) => known.startsWith(`${namespace}:`));
    return `Unknown scope ${shown}: the gateway's ${namespace} scopes are ${known.join(', ')}`;
  }
  return undefined;
}
