import { printSchema } from 'graphql';
import { schema } from './index.js';

/** Where the committed SDL lives; `npm run schema` writes it and a test keeps it current. */
export const SCHEMA_FILE = new URL('../../schema/schema.graphql', import.meta.url);

/** The SDL of the built schema, as committed. */
export function printGatewaySchema(): string {
  return `${printSchema(schema)}\n`;
}
