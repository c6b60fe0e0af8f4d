import type { Revocations } from '../revocation/revocations.js';
import type { UserCache } from './user-cache.js';

export interface ForgetChangedUsersOptions {
  readonly revocations: Pick<Revocations, 'onRevoked'>;
  readonly cache: UserCache;
}

/**
 * Drops the cached row of a user that was renamed or deleted, as each change is learned: here at
 * once (announce applies locally first), from another instance over the channel, or from the
 * database by the periodic catch-up when the broadcast was lost. Returns the function that stops it.
 */
export function forgetChangedUsers({ revocations, cache }: ForgetChangedUsersOptions): () => void {
  return revocations.onRevoked((revocation) => {
    if (revocation.userChanged || revocation.userDeleted) cache.forget(revocation.userId);
  });
}
