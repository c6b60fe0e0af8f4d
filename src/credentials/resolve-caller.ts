import type { Authenticator } from '../auth/authenticator.js';
import type { Caller } from '../auth/caller.js';
import { presentedCredential, type CredentialSources } from './credential-sources.js';

/**
 * The caller a request's credential sources name: null when none is presented; UNAUTHENTICATED
 * for a refused one. `clientIp`, when given, is the client refused personal access tokens
 * count against. HTTP, SSE and WebSocket connections all resolve their caller here.
 */
export async function resolveCaller(authenticator: Authenticator, sources: CredentialSources, clientIp?: string | null): Promise<Caller | null> {
  const credential = presentedCredential(sources);
  if (credential === undefined) return null;
  return authenticator.authenticate(credential, clientIp);
}
