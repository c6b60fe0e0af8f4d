import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import { hasScope, type Caller, type SessionCaller } from '../auth/caller.js';
import type { GatewayContext } from '../context.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';

/** The context of a resolver that only runs for a verified caller. */
export interface AuthenticatedContext extends GatewayContext {
  readonly caller: Caller;
}

/** The context of a resolver that only runs for a session's own access token. */
export interface SessionContext extends GatewayContext {
  readonly caller: SessionCaller;
}

/**
 * The one schema builder. Every auth rule is an auth scope: `authenticated` (any verified
 * caller), `session` (a signed-in session, never a personal access token) and `scope` (a
 * personal access token scope; sessions hold them all).
 */
export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  AuthScopes: { authenticated: boolean; session: boolean; scope: string };
  AuthContexts: { authenticated: AuthenticatedContext; session: SessionContext; scope: AuthenticatedContext };
  Scalars: { DateTime: { Input: Date; Output: Date | number } };
  DefaultFieldNullability: false;
}>({
  // Federation after scope auth, which wraps resolvers (the plugin's own advice). Neither changes
  // builder.toSchema(): the federation fields exist only in toSubGraphSchema (src/schema/subgraph.ts).
  plugins: [ScopeAuthPlugin, DirectivePlugin, FederationPlugin],
  // Non-null unless a field says otherwise, as the contract has it.
  defaultFieldNullability: false,
  scopeAuth: {
    // Check subscriptions when they start, not only when each event resolves: an anonymous
    // caller must never open a stream.
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      authenticated: context.caller !== null,
      session: context.caller?.kind === 'session',
      scope: (scope: string) => hasScope(context.caller, scope),
    }),
    unauthorizedError: (_parent, context, _info, result) =>
      context.caller === null
        ? new UnauthenticatedError('TOKEN_MISSING')
        : new ForbiddenError(context.caller.kind === 'session' ? undefined : 'This credential may not perform this operation', requiredScopes(result.failure)),
  },
});

/** The builder's resolved type parameters, for helpers that build fields outside a callback. */
export type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

builder.queryType({});
builder.mutationType({});

/** The named scopes a failed check asked for, for extensions.requiredScopes. */
function requiredScopes(failure: AuthFailure): string[] {
  switch (failure.kind) {
    case AuthScopeFailureType.AuthScope:
      return failure.scope === 'scope' && typeof failure.parameter === 'string' ? [failure.parameter] : [];
    case AuthScopeFailureType.AnyAuthScopes:
    case AuthScopeFailureType.AllAuthScopes:
      return failure.failures.flatMap(requiredScopes);
    default:
      return [];
  }
}
