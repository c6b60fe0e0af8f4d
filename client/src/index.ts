export { createAuthClient, DEFAULT_EXPIRY_MARGIN_MS, DEFAULT_REFRESH_AT } from './auth-client.js';
export { GraphQLRequestError, type GraphQLErrorLike, NotSignedInError } from './errors.js';
export { createMemoryStorage } from './memory-storage.js';
export * from './operations.js';
export { printDocument } from './print-document.js';
export type {
  AuthClient,
  AuthClientOptions,
  Delivery,
  LockManagerLike,
  Scheduler,
  SessionUser,
  SignedOutReason,
  StoredSession,
  TokenStorage,
} from './types.js';
