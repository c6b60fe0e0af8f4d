import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed operations for the tests and for clients: every document in schema/operations becomes
 * a TypedDocumentNode whose result and variables types follow schema/schema.graphql.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: 'schema/operations/*.graphql',
  generates: {
    'client/src/operations.ts': {
      plugins: ['typescript-operations', 'typed-document-node'],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        strictScalars: true,
        scalars: { DateTime: 'string' },
        avoidOptionals: { field: true, inputValue: false, object: false, defaultValue: false },
      },
    },
  },
  hooks: {},
};

export default config;
