import { graphqlBody, probe, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { LOGIN_MUTATION } from '../lib/operations.js';
import { Teardown } from '../lib/teardown.js';
import { gatewayWithAccount } from '../servers/gateway.js';
import { type BenchCase, inAlternatingOrder, Samples, within } from './case.js';

const TOLERANCE = 0.1;

/**
 * Case 8 (and issue 5's benchmark line): the median login latency of an unknown user against a
 * known user with a wrong password, one request at a time, as a ratio measured in the same run.
 * Both must answer INVALID_CREDENTIALS; an unknown user still costs one Argon2 verification.
 */
export const loginTiming: BenchCase = {
  ids: ['case8'],
  title: 'Unknown user versus wrong password',
  async run({ options, log }) {
    const teardown = new Teardown();
    try {
      const { gateway, account } = await gatewayWithAccount(teardown, 'sqlite', options.postgresUrl);
      const attempt = (username: string): LoadSpec => ({
        url: gateway.url,
        connections: 1,
        durationSeconds: options.durationSeconds,
        headers: {},
        body: graphqlBody(LOGIN_MUTATION, { input: { username, password: `wrong-${account.password}`, refreshTokenDelivery: 'BODY' } }),
        expect: { kind: 'error', code: 'INVALID_CREDENTIALS' },
      });
      const unknown = attempt(`nobody-${account.username}`.slice(0, 32));
      const wrong = attempt(account.username);
      for (const spec of [unknown, wrong]) {
        await probe(spec);
        await warmUp(spec, options.warmupSeconds);
      }
      const samples = new Samples();
      for (let run = 1; run <= options.runs; run++) {
        log(`run ${run}/${options.runs}`);
        for (const [key, spec] of inAlternatingOrder(run, [
          ['unknown', unknown],
          ['wrong', wrong],
        ] as const)) {
          samples.addLoad(key, await runLoad(spec));
        }
        samples.addRatio('ratio', 'unknown.p50', 'wrong.p50');
      }
      return [
        samples.row('case8', 'Login, unknown user: median latency', 'ms', 'unknown.p50'),
        samples.row('case8', 'Login, wrong password: median latency', 'ms', 'wrong.p50'),
        samples.row('case8', 'Unknown user / wrong password', 'ratio', 'ratio', within(1, TOLERANCE, `within ${TOLERANCE * 100}% (0.9 to 1.1)`)),
      ];
    } finally {
      await teardown.run();
    }
  },
};
