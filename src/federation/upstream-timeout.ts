import { type DocumentNode, getOperationAST, OperationTypeNode } from 'graphql';

/** What Hive's upstreamTimeout hands its factory of a subgraph request. */
interface TimedRequest {
  readonly subgraphName?: string;
  readonly executionRequest?: { readonly operationType?: OperationTypeNode; readonly document?: DocumentNode; readonly operationName?: string };
}

/**
 * SUBGRAPH_TIMEOUT_MS for the requests to remote subgraphs but a subscription's. Hive applies
 * its upstreamTimeout to a subscription's whole stream, so a subgraph's subscription served
 * through the gateway would end after that time however alive it is, and the timer, firing
 * after the stream had ended some other way, left a rejection nobody handled. The gateway's own
 * subgraph runs in-process and cannot be cancelled: a timeout would answer GATEWAY_TIMEOUT for a
 * registration that then completes.
 */
export function upstreamTimeout(timeoutMs: number, localSubgraph: string): (request: TimedRequest) => number | undefined {
  return ({ subgraphName, executionRequest }) =>
    subgraphName === localSubgraph || (executionRequest && isSubscription(executionRequest)) ? undefined : timeoutMs;
}

function isSubscription(request: NonNullable<TimedRequest['executionRequest']>): boolean {
  if (request.operationType) return request.operationType === OperationTypeNode.SUBSCRIPTION;
  return request.document !== undefined && getOperationAST(request.document, request.operationName)?.operation === OperationTypeNode.SUBSCRIPTION;
}
