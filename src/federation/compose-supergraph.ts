import { composeServices, compositionHasErrors } from '@theguild/federation-composition';
import { parse } from 'graphql';
import type { SubgraphConfig } from '../config.js';

/** Where the supergraph says the gateway's own subgraph lives: never fetched (it runs in-process), and unroutable if it ever were. */
export const GATEWAY_SUBGRAPH_URL = 'http://gateway.invalid/graphql';

/** The subgraph SDL query of the federation spec. */
const SERVICE_SDL_QUERY = '{ _service { sdl } }';

/** A subgraph whose SDL could not be read, or subgraphs that do not compose; the message names them. */
export class SupergraphCompositionError extends Error {
  override name = 'SupergraphCompositionError';
}

export interface ComposeSupergraphOptions {
  /** The gateway's own subgraph: its name and SDL. */
  readonly gateway: { readonly name: string; readonly sdl: string };
  readonly subgraphs: readonly SubgraphConfig[];
  /** How long reading one subgraph's SDL may take. */
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  /** Ends the SDL reads early (the gateway is closing). */
  readonly signal?: AbortSignal;
}

/**
 * Reads every subgraph's SDL (`{ _service { sdl } }`) and composes them with the gateway's own
 * into a supergraph (Federation 2, @theguild/federation-composition). Throws
 * SupergraphCompositionError naming the subgraph that could not be read or the conflicts.
 */
export async function composeSupergraph({ gateway, subgraphs, timeoutMs, fetch: fetchFn = fetch, signal }: ComposeSupergraphOptions): Promise<string> {
  const remote = await Promise.all(
    subgraphs.map(async ({ name, url }) => {
      // A timer of its own, cleared once the SDL is read: none is left running after a round.
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), timeoutMs);
      try {
        return { name, url, sdl: await readSubgraphSdl(name, url, signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal, fetchFn) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const services = [{ name: gateway.name, url: GATEWAY_SUBGRAPH_URL, sdl: gateway.sdl }, ...remote].map(({ name, url, sdl }) => {
    try {
      return { name, url, typeDefs: parse(sdl) };
    } catch (error) {
      throw new SupergraphCompositionError(`subgraph ${name}: its SDL does not parse: ${(error as Error).message}`);
    }
  });
  const result = composeServices(services);
  if (compositionHasErrors(result)) {
    throw new SupergraphCompositionError(`the subgraphs do not compose: ${result.errors.map((error) => error.message).join('; ')}`);
  }
  return result.supergraphSdl;
}

async function readSubgraphSdl(name: string, url: string, signal: AbortSignal, fetchFn: typeof fetch): Promise<string> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: SERVICE_SDL_QUERY }),
      signal,
    });
  } catch (error) {
    // fetch's own message is "fetch failed"; the reason (ECONNREFUSED, a DNS error) is its cause.
    const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
    const reason = cause?.code ?? cause?.message;
    throw new SupergraphCompositionError(`subgraph ${name} (${url}): its SDL could not be read: ${(error as Error).message}${reason ? ` (${reason})` : ''}`);
  }
  const body = (await response.json().catch(() => null)) as { data?: { _service?: { sdl?: unknown } } } | null;
  const sdl = body?.data?._service?.sdl;
  if (!response.ok || typeof sdl !== 'string') {
    throw new SupergraphCompositionError(`subgraph ${name} (${url}): answered ${response.status} without { _service { sdl } }`);
  }
  return sdl;
}
