import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import type { Caller } from '../auth/caller.js';
import type { IdentityTokens } from './identity-tokens.js';

export interface SubgraphRequestsOptions {
  readonly identityTokens: IdentityTokens;
  /** The audience of each subgraph's identity tokens, by subgraph name; the name itself when absent. */
  readonly audiences: ReadonlyMap<string, string>;
  /** Client request headers (lower case) copied to every subgraph request. */
  readonly propagateHeaders: readonly string[];
  /** The gateway's own subgraph, executed in-process with the caller in its context: it needs no token. */
  readonly localSubgraph: string;
}

/** Request headers that never reach a subgraph from the client, whatever else is configured. */
const CLIENT_CREDENTIAL_HEADERS = ['cookie', 'proxy-authorization'];

/**
 * What a subgraph request carries: the caller as an identity token (`Authorization: Bearer`),
 * the allowlisted headers of the client's request, and nothing of the client's own credential
 * (Authorization, Cookie; a `?token=` is on the client's URL, never on a subgraph's). A request
 * without a caller carries no Authorization at all. Subgraph responses' headers, Set-Cookie
 * among them, are not passed on: Hive Gateway propagates none unless told to.
 *
 * The headers travel as the execution request's `extensions.headers`, which the HTTP executor
 * takes out of the body and, unlike headers set later in onFetch, counts in the key under which
 * it merges identical queries in flight: callers with different identities never share a
 * subgraph's answer.
 */
export function useSubgraphRequests({
  identityTokens,
  audiences,
  propagateHeaders,
  localSubgraph,
}: SubgraphRequestsOptions): GatewayPlugin<{ caller?: Caller | null }> {
  return {
    onSubgraphExecute({ subgraphName, executionRequest }) {
      if (subgraphName === localSubgraph) return;
      const context = executionRequest.context as { request?: Request; caller?: Caller | null } | undefined;
      const headers: Record<string, string> = {};
      for (const name of propagateHeaders) {
        const value = context?.request?.headers.get(name);
        if (value != null) headers[name] = value;
      }
      const caller = context?.caller;
      const send = () => {
        executionRequest.extensions = { ...executionRequest.extensions, headers: { ...(executionRequest.extensions?.headers as object), ...headers } };
      };
      if (!caller) return send();
      return identityTokens.tokenFor(caller, audiences.get(subgraphName) ?? subgraphName).then((token) => {
        headers.authorization = `Bearer ${token}`;
        send();
      });
    },
    onFetch({ options, setOptions }) {
      const headers = { ...(options.headers as Record<string, string> | undefined) };
      let changed = false;
      for (const name of Object.keys(headers)) {
        if (CLIENT_CREDENTIAL_HEADERS.includes(name.toLowerCase())) {
          delete headers[name];
          changed = true;
        }
      }
      if (changed) setOptions({ ...options, headers });
    },
  };
}
