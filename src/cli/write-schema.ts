import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema, SCHEMA_FILE } from '../schema/sdl.js';
import { gatewaySubgraphSdl } from '../schema/subgraph.js';

/** Where `--subgraph` writes unless given a path: beside schema.graphql. */
const SUBGRAPH_FILE = new URL('../../schema/subgraph.graphql', import.meta.url);

// `npm run schema`: writes the built schema's SDL to schema/schema.graphql.
// `npm run schema -- --subgraph [file]`: writes the gateway's own subgraph SDL, the one to compose
// as the subgraph `gateway` into a supergraph built elsewhere (rover, Hive CLI; see SUPERGRAPH),
// to `file`, schema/subgraph.graphql unless given.
const args = process.argv.slice(2);
const at = args.indexOf('--subgraph');
if (at === -1) {
  writeFileSync(SCHEMA_FILE, printGatewaySchema());
  console.log(`wrote ${fileURLToPath(SCHEMA_FILE)}`);
} else {
  const given = args[at + 1];
  const file = given === undefined || given.startsWith('--') ? fileURLToPath(SUBGRAPH_FILE) : resolve(given);
  writeFileSync(file, `${(await gatewaySubgraphSdl()).trim()}\n`);
  console.log(`wrote ${file}`);
}
