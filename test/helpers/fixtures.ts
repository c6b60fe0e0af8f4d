import { test as base } from 'vitest';
import { register, type SignedIn } from './accounts.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './test-gateway.js';

export { PASSWORD, register, signIn, type SignedIn } from './accounts.js';

export interface GatewayFixtures {
  /** How `gateway` is started; override for a file or a describe block with `test.override({ gatewayOptions })`. */
  gatewayOptions: TestGatewayOptions;
  /** A started gateway (startTestGateway), closed and its database dropped after the test. */
  gateway: TestGateway;
  /** The account `alice`, registered on `gateway` with PASSWORD (refresh token in the body). */
  signedIn: SignedIn;
}

/**
 * vitest's `test` with a started gateway and a signed-in user, each built only for the tests
 * that name it: `test('...', async ({ gateway, signedIn }) => ...)`.
 */
export const test = base.extend<GatewayFixtures>({
  gatewayOptions: [{}, { injected: false }],
  gateway: async ({ gatewayOptions }, use) => {
    const gateway = await startTestGateway(gatewayOptions);
    try {
      await use(gateway);
    } finally {
      await gateway.close();
    }
  },
  signedIn: async ({ gateway }, use) => {
    await use(await register(gateway, 'alice'));
  },
});

export { describe, expect } from 'vitest';
