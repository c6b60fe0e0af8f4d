import { execute, type GraphQLSchema, parse } from 'graphql';
import { builder } from './builder.js';
import './index.js';

let built: GraphQLSchema | undefined;

/**
 * The gateway's schema as a federation subgraph (with `_service` and `_entities`, User keyed by
 * id), built on first use: only a federated gateway needs it, and it is only ever executed
 * in-process (src/federation/local-transport.ts), never served.
 */
export function gatewaySubgraphSchema(): GraphQLSchema {
  built ??= builder.toSubGraphSchema({ federationDirectives: ['@key'] });
  return built;
}

/** The subgraph SDL composition reads, as `{ _service { sdl } }` answers it. */
export async function gatewaySubgraphSdl(): Promise<string> {
  const result = await execute({ schema: gatewaySubgraphSchema(), document: parse('{ _service { sdl } }') });
  const sdl = (result.data as { _service?: { sdl?: unknown } } | null | undefined)?._service?.sdl;
  if (typeof sdl !== 'string') throw new Error('the gateway subgraph printed no SDL');
  return sdl;
}
