import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { type ExecutionResult, GraphQLError } from 'graphql';
import type { Logger } from 'pino';

export interface SubgraphErrorsOptions {
  readonly logger: Logger;
  /** The gateway's own subgraph, whose errors are the gateway's and pass unchanged. */
  readonly localSubgraph: string;
}

/** Why a subgraph's part of an answer is missing (extensions.reason of SUBGRAPH_UNAVAILABLE). */
export type SubgraphUnavailableReason = 'TIMEOUT' | 'UNREACHABLE';

/** The codes Hive Gateway's HTTP executor gives the failures of a request, not the subgraph's own errors. */
const TRANSPORT_FAILURE_CODES: Readonly<Record<string, SubgraphUnavailableReason>> = {
  GATEWAY_TIMEOUT: 'TIMEOUT',
  SUBREQUEST_HTTP_ERROR: 'UNREACHABLE',
};

/**
 * A subgraph's part of the answer failed: its field is null and this error says which subgraph
 * and why, with a stable code, and no address, request or stack (those go to the log).
 */
export class SubgraphUnavailableError extends GraphQLError {
  readonly code = 'SUBGRAPH_UNAVAILABLE';
  constructor(serviceName: string, reason: SubgraphUnavailableReason, path: GraphQLError['path']) {
    super(reason === 'TIMEOUT' ? `Subgraph ${serviceName} did not answer in time` : `Subgraph ${serviceName} is unavailable`, {
      path,
      extensions: { code: 'SUBGRAPH_UNAVAILABLE', reason, serviceName },
    });
  }
}

/**
 * Rewrites the errors of remote subgraphs before they reach the client. A failed request
 * (refused connection, timeout, an answer that is not GraphQL) becomes SUBGRAPH_UNAVAILABLE;
 * an error the subgraph itself answered keeps its message and code, with only its path and
 * serviceName beside them: Hive Gateway adds the subgraph request (its URL, its body with the
 * representations) to `extensions`, which a client must not see. The gateway's own errors
 * lose the serviceName, so that they read as the plain gateway's do.
 */
export function useSubgraphErrors({ logger, localSubgraph }: SubgraphErrorsOptions): GatewayPlugin {
  const rewrite = (result: ExecutionResult, setResult: (result: ExecutionResult) => void) => {
    if (!result.errors?.some((error) => error.extensions?.serviceName !== undefined)) return;
    setResult({ ...result, errors: result.errors.map((error) => (isRemote(error, localSubgraph) ? cleaned(error, logger) : asLocal(error))) });
  };
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return { onNext: ({ result, setResult }) => rewrite(result, setResult) };
          rewrite(result, setResult);
          return undefined;
        },
      };
    },
  };
}

function isRemote(error: GraphQLError, localSubgraph: string): boolean {
  const serviceName = error.extensions?.serviceName;
  return typeof serviceName === 'string' && serviceName !== localSubgraph;
}

/** The gateway's own error as the plain gateway answers it: without the subgraph name Hive Gateway adds. */
function asLocal(error: GraphQLError): GraphQLError {
  if (error.extensions?.serviceName === undefined) return error;
  const { serviceName: _local, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { path: error.path, nodes: error.nodes, originalError: error.originalError, extensions });
}

function cleaned(error: GraphQLError, logger: Logger): GraphQLError {
  const serviceName = error.extensions.serviceName as string;
  const code = typeof error.extensions.code === 'string' ? error.extensions.code : undefined;
  const failure = code === undefined ? undefined : TRANSPORT_FAILURE_CODES[code];
  if (failure !== undefined || error.extensions.request !== undefined) {
    logger.warn({ subgraph: serviceName, err: { message: error.message, code }, path: error.path }, 'subgraph request failed');
    return new SubgraphUnavailableError(serviceName, failure ?? 'UNREACHABLE', error.path);
  }
  return new GraphQLError(error.message, { path: error.path, nodes: error.nodes, extensions: { ...(code ? { code } : {}), serviceName } });
}
