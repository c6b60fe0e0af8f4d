import type { GatewayConfigBase, ValidateUserFn } from '@graphql-hive/gateway-runtime';
import { type Caller, hasScope } from '../auth/caller.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';

import type { GatewayContext } from '../context.js';

type GenericAuthOptions = NonNullable<GatewayConfigBase<GatewayContext>['genericAuth']>;

/**
 * `@authenticated` and `@requiresScopes` of the supergraph, checked by the gateway while it
 * validates an operation, so that a refused operation calls no subgraph at all: UNAUTHENTICATED
 * without a caller, FORBIDDEN with `requiredScopes` for a personal access token that lacks them.
 * A session holds every scope, as it does for the gateway's own fields. The caller is the one
 * the context resolved (`context.caller`), read when the operation is validated.
 */
export function edgeAuthorization(): GenericAuthOptions {
  return {
    mode: 'protect-granular',
    contextFieldName: 'caller',
    // The context plugin sets `caller`; this only names it for the validation rule.
    resolveUserFn: (context: Record<string, unknown>) => (context.caller as Caller | null | undefined) ?? null,
    validateUser: (({ user, fieldAuthArgs, typeAuthArgs, fieldScopes, typeScopes }) => {
      const caller = user as Caller | null;
      const scopes = fieldScopes ?? typeScopes;
      if (caller == null) return fieldAuthArgs || typeAuthArgs || scopes ? new UnauthenticatedError('TOKEN_MISSING') : undefined;
      if (!scopes || scopes.length === 0) return undefined;
      // Any one list of scopes, all of its scopes held (the directive's OR of ANDs).
      if (scopes.some((all) => all.every((scope) => hasScope(caller, scope)))) return undefined;
      const missing = scopes.find((all) => all.some((scope) => !hasScope(caller, scope))) ?? [];
      return new ForbiddenError(undefined, missing);
    }) satisfies ValidateUserFn<object>,
  } as unknown as GenericAuthOptions;
}
