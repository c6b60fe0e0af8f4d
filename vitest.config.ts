import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS and ESM builds without an exports map: Node (and so Yoga and
    // Pothos) load the CommonJS one, Vite would load the ESM one for our sources. Two copies
    // break every `instanceof GraphQLError`; pin the one Node uses, as in production.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    // The client SDK's tests too (against a gateway started in-process, as the server's).
    include: ['test/**/*.test.ts', 'client/test/**/*.test.ts'],
    // Each file starts its own gateways on real databases; files run in parallel processes.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
