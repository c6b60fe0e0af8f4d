import type { Transport } from '@graphql-mesh/transport-common';
import type { ExecutionRequest, ExecutionResult } from '@graphql-tools/utils';
import { execute, type GraphQLSchema, getOperationAST, subscribe } from 'graphql';

/** The transport kind of the gateway's own subgraph in transportEntries. */
export const LOCAL_TRANSPORT_KIND = 'gateway-local';

/**
 * Runs the gateway's own subgraph in-process: the plan's requests to it are executed on its
 * schema with the request's context (the caller resolved once, the services), with no HTTP
 * hop and no second verification of the credential.
 */
export function localTransport(schema: () => GraphQLSchema): Transport {
  return {
    getSubgraphExecutor: () => (request: ExecutionRequest) => {
      const args = {
        schema: schema(),
        document: request.document,
        variableValues: request.variables,
        operationName: request.operationName,
        contextValue: request.context,
        rootValue: request.rootValue,
      };
      const operation = getOperationAST(request.document, request.operationName);
      return (operation?.operation === 'subscription' ? subscribe(args) : execute(args)) as Promise<ExecutionResult>;
    },
  };
}
