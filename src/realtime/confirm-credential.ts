import type { Authenticator } from '../auth/authenticator.js';
import type { Caller } from '../auth/caller.js';
import type { CredentialSources } from '../credentials/credential-sources.js';
import { resolveCaller } from '../credentials/resolve-caller.js';
import { UnauthenticatedError } from '../errors.js';

/**
 * Verifies a channel's credential a second time, once the channel is registered with
 * LiveConnections. A revocation announced while the first verification was in flight found no
 * channel to end; from registration on, LiveConnections ends it. This second look closes the
 * gap between the two, which would otherwise leave a revoked personal access token without
 * expiry streaming for good. Throws UNAUTHENTICATED when the credential no longer holds.
 */
export async function confirmCredential(authenticator: Authenticator, sources: CredentialSources, caller: Caller): Promise<void> {
  const again = await resolveCaller(authenticator, sources);
  if (again === null || !sameCredential(again, caller)) throw new UnauthenticatedError('TOKEN_INVALID');
}

function sameCredential(a: Caller, b: Caller): boolean {
  if (a.userId !== b.userId) return false;
  if (a.kind === 'session') return b.kind === 'session' && a.sessionId === b.sessionId;
  return b.kind === 'pat' && a.tokenId === b.tokenId;
}
