import type { Revocations } from '../../revocation/revocations.js';
import type { PersonalAccessTokenCache } from './token-cache.js';

export interface ForgetRevokedPersonalAccessTokensOptions {
  readonly revocations: Pick<Revocations, 'onRevoked'>;
  readonly cache: PersonalAccessTokenCache;
}

/**
 * Drops the cached look-ups of revoked tokens, and of every token of a deleted account, as each
 * revocation is learned, here or from another instance; revocation itself knows nothing of
 * personal access tokens. Returns the function that stops it.
 */
export function forgetRevokedPersonalAccessTokens({ revocations, cache }: ForgetRevokedPersonalAccessTokensOptions): () => void {
  return revocations.onRevoked((revocation) =>
    cache.invalidate({ userId: revocation.userId, tokenIds: revocation.tokenIds, allOfUser: revocation.userDeleted }),
  );
}
