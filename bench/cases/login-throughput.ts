import { loginInput, registerAccount } from '../lib/accounts.js';
import type { Argon2ThroughputResult, Argon2ThroughputSpec } from '../lib/argon2-throughput.js';
import { graphqlBody, probe, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { LOGIN_MUTATION, ME_QUERY } from '../lib/operations.js';
import { compiledBenchScript, runJsonProcess } from '../lib/processes.js';
import { Teardown } from '../lib/teardown.js';
import { gatewayWithAccount, passThrough } from '../servers/gateway.js';
import { atLeast, type BenchCase, below, inAlternatingOrder, Samples } from './case.js';

const LOGIN_GOAL = 0.9;
const STORM_ME_P99_GOAL_MS = 50;
/**
 * One connection carries the `me` requests, one at a time, capped at the configured rate:
 * autocannon's rate limit sends each second's quota back to back, so with more connections the
 * requests would queue behind each other and the figure would measure that, not the gateway.
 */
const STORM_ME_CONNECTIONS = 1;

/**
 * Case 5: login throughput against raw Argon2id verification with the gateway's parameters and
 * the same concurrency (bench/lib/argon2-throughput.ts, its own process), as a ratio per run;
 * and the p99 latency of `me` while a login storm runs, from two load drivers at once.
 */
export const loginThroughput: BenchCase = {
  ids: ['case5'],
  title: 'Login throughput and the event loop under a login storm',
  async run({ options, log }) {
    const teardown = new Teardown();
    try {
      const { gateway, account } = await gatewayWithAccount(teardown, 'sqlite', options.postgresUrl);
      // `me` as another account: the storm's thousands of sign-ins to `account` go past
      // MAX_SESSIONS_PER_USER, which revokes its oldest sessions, the first one included.
      const watcher = await registerAccount(gateway.url, 'watcher');
      const login: LoadSpec = {
        url: gateway.url,
        connections: options.loginConcurrency,
        durationSeconds: options.durationSeconds,
        headers: {},
        body: graphqlBody(LOGIN_MUTATION, loginInput(account)),
        expect: { kind: 'data' },
      };
      const me: LoadSpec = {
        url: gateway.url,
        connections: STORM_ME_CONNECTIONS,
        durationSeconds: options.durationSeconds,
        overallRate: options.stormMeRate,
        headers: { authorization: `Bearer ${watcher.accessToken}` },
        body: graphqlBody(ME_QUERY),
        expect: { kind: 'data' },
      };
      const raw: Argon2ThroughputSpec = {
        params: gateway.argon2,
        concurrency: options.loginConcurrency,
        durationSeconds: options.durationSeconds,
        // A short warm-up inside each process: the first calls allocate the thread pool's memory.
        warmupSeconds: Math.min(1, options.warmupSeconds),
      };
      for (const spec of [login, me]) {
        await probe(spec);
        await warmUp(spec, options.warmupSeconds);
      }
      const argon2Env = passThrough('UV_THREADPOOL_SIZE');

      const samples = new Samples();
      for (let run = 1; run <= options.runs; run++) {
        log(`run ${run}/${options.runs}`);
        for (const side of inAlternatingOrder(run, ['raw', 'login'] as const)) {
          if (side === 'login') {
            samples.addLoad('login', await runLoad(login));
          } else {
            const verify = await runJsonProcess<Argon2ThroughputResult>(compiledBenchScript('lib/argon2-throughput.ts'), raw, argon2Env);
            samples.add('raw.ops', verify.opsPerSecond);
            samples.add('raw.p99', verify.latencyMs.p99);
          }
        }
        samples.addRatio('login.ratio', 'login.rps', 'raw.ops');
        samples.addLoad('calm.me', await runLoad(me));
        const [stormLogin, stormMe] = await Promise.all([runLoad(login), runLoad(me)]);
        samples.addLoad('storm.login', stormLogin);
        samples.addLoad('storm.me', stormMe);
      }
      const c = options.loginConcurrency;
      return [
        samples.row('case5', `Raw argon2.verify, ${c} at a time (own process)`, 'ops/s', 'raw.ops'),
        samples.row('case5', 'Raw argon2.verify: p99 latency', 'ms', 'raw.p99'),
        samples.row('case5', `Login, ${c} connections`, 'req/s', 'login.rps'),
        samples.row('case5', 'Login: p99 latency', 'ms', 'login.p99'),
        samples.row('case5', 'Login / raw verify', 'ratio', 'login.ratio', atLeast(LOGIN_GOAL, `≥ ${LOGIN_GOAL}`)),
        samples.row('case5', `me, one at a time up to ${options.stormMeRate}/s, no storm: p99 latency`, 'ms', 'calm.me.p99'),
        samples.row(
          'case5',
          'me, the same, during a login storm: p99 latency',
          'ms',
          'storm.me.p99',
          below(STORM_ME_P99_GOAL_MS, `< ${STORM_ME_P99_GOAL_MS} ms`),
        ),
        samples.row('case5', 'me served during the storm', 'req/s', 'storm.me.rps'),
        samples.row('case5', 'Login during the storm', 'req/s', 'storm.login.rps'),
      ];
    } finally {
      await teardown.run();
    }
  },
};
