import { readFile } from 'node:fs/promises';
import { Kind, parse } from 'graphql';
import { ConfigError, GATEWAY_SUBGRAPH_NAME } from '../config.js';

/**
 * Reads a supergraph composed elsewhere (SUPERGRAPH) and checks what can be checked before it is
 * served: the file reads, parses as GraphQL, and is a supergraph (a `join__Graph` enum) naming
 * the gateway's own subgraph, `gateway`, which runs in-process. Throws a ConfigError for
 * SUPERGRAPH saying which of these failed.
 */
export async function readSupergraphFile(path: string): Promise<string> {
  let sdl: string;
  try {
    sdl = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError('SUPERGRAPH', `${path} could not be read: ${(error as Error).message}`);
  }
  let document: ReturnType<typeof parse>;
  try {
    document = parse(sdl, { noLocation: true });
  } catch (error) {
    throw new ConfigError('SUPERGRAPH', `${path} does not parse: ${(error as Error).message}`);
  }
  const graphs = document.definitions.find((definition) => definition.kind === Kind.ENUM_TYPE_DEFINITION && definition.name.value === 'join__Graph');
  if (graphs?.kind !== Kind.ENUM_TYPE_DEFINITION) throw new ConfigError('SUPERGRAPH', `${path} is not a supergraph (it has no join__Graph)`);
  const names = (graphs.values ?? []).flatMap((value) =>
    (value.directives ?? [])
      .filter((directive) => directive.name.value === 'join__graph')
      .flatMap((directive) => directive.arguments ?? [])
      .flatMap((argument) => (argument.name.value === 'name' && argument.value.kind === Kind.STRING ? [argument.value.value] : [])),
  );
  if (!names.includes(GATEWAY_SUBGRAPH_NAME)) {
    throw new ConfigError(
      'SUPERGRAPH',
      `${path} has no subgraph named "${GATEWAY_SUBGRAPH_NAME}" (the gateway's own schema; subgraphs: ${names.join(', ') || 'none'})`,
    );
  }
  return sdl;
}
