import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printGatewaySchema, SCHEMA_FILE } from '../schema/sdl.js';

// `npm run schema`: writes the built schema's SDL to schema/schema.graphql.
writeFileSync(SCHEMA_FILE, printGatewaySchema());
console.log(`wrote ${fileURLToPath(SCHEMA_FILE)}`);
