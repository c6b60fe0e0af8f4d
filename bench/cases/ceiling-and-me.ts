import { cookieHeaderAfterLogin, registerAccount, tryCreatePersonalAccessToken } from '../lib/accounts.js';
import { createBenchDatabase } from '../lib/bench-database.js';
import { graphqlBody, probe, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { ME_QUERY, TYPENAME_QUERY } from '../lib/operations.js';
import { compiledBenchScript, startServerProcess } from '../lib/processes.js';
import { type GatewayServer, startGateway } from '../servers/gateway.js';
import { Teardown } from '../lib/teardown.js';
import { atLeast, type BenchCase, inAlternatingOrder, type ResultRow, Samples, unavailableRow } from './case.js';

const ME_GOAL = 0.85;

interface MeVariant {
  readonly key: string;
  readonly label: string;
  readonly spec: LoadSpec;
}

/**
 * Case 1, the ceiling: bare Yoga answering `{ __typename }`. Case 2: the gateway answering `me`
 * with an access token in the Authorization header, in the accessToken cookie, and with a
 * personal access token; each as a ratio to the ceiling measured in the same run.
 */
export const ceilingAndMe: BenchCase = {
  ids: ['case1', 'case2'],
  title: 'Ceiling and me',
  async run({ options, log }, selected) {
    const load = { connections: options.connections, durationSeconds: options.durationSeconds, expect: { kind: 'data' } as const };
    const teardown = new Teardown();
    try {
      const yoga = teardown.add(
        await startServerProcess({ script: compiledBenchScript('servers/bare-yoga.ts'), env: { NODE_ENV: 'production' }, readiness: { kind: 'ready-line' } }),
        (server) => server.stop(),
      );
      // The same without Yoga's per-request body stream, which the gateway does without (its
      // useRequestBodyLimit judges a body by its Content-Length): what the ratios would be
      // against a Yoga tuned the same way. Reported beside the ceiling, no goal.
      const leanYoga = teardown.add(
        await startServerProcess({
          script: compiledBenchScript('servers/bare-yoga.ts'),
          env: { NODE_ENV: 'production', BARE_YOGA_BODY_STREAM: 'off' },
          readiness: { kind: 'ready-line' },
        }),
        (server) => server.stop(),
      );
      let gateway: GatewayServer | undefined;
      if (selected.has('case2')) {
        const database = teardown.add(await createBenchDatabase('sqlite', options.postgresUrl), (db) => db.drop());
        gateway = teardown.add(await startGateway(database), (server) => server.stop());
      }
      const ceiling: LoadSpec = { ...load, url: `${yoga.origin}/graphql`, headers: {}, body: graphqlBody(TYPENAME_QUERY) };
      const leanCeiling: LoadSpec = { ...ceiling, url: `${leanYoga.origin}/graphql` };
      const variants: MeVariant[] = [];
      const rows: ResultRow[] = [];
      if (gateway) {
        const account = await registerAccount(gateway.url);
        const me = { ...load, url: gateway.url, body: graphqlBody(ME_QUERY) };
        variants.push({
          key: 'header',
          label: 'me, access token in the Authorization header',
          spec: { ...me, headers: { authorization: `Bearer ${account.accessToken}` } },
        });
        variants.push({
          key: 'cookie',
          label: 'me, access token in the accessToken cookie',
          spec: { ...me, headers: { cookie: await cookieHeaderAfterLogin(gateway.url, account) } },
        });
        const pat = await tryCreatePersonalAccessToken(gateway.url, account.accessToken);
        if (pat.available) {
          variants.push({ key: 'pat', label: 'me, personal access token', spec: { ...me, headers: { authorization: `Bearer ${pat.value}` } } });
        } else {
          rows.push(unavailableRow('case2', 'me, personal access token / ceiling', 'ratio', `not available yet: ${pat.reason}`, `≥ ${ME_GOAL}`));
        }
      }

      for (const spec of [ceiling, leanCeiling, ...variants.map((v) => v.spec)]) {
        await probe(spec);
        await warmUp(spec, options.warmupSeconds);
      }
      const samples = new Samples();
      for (let run = 1; run <= options.runs; run++) {
        log(`run ${run}/${options.runs}`);
        const loads = [{ key: 'ceiling', spec: ceiling }, { key: 'leanCeiling', spec: leanCeiling }, ...variants];
        for (const { key, spec } of inAlternatingOrder(run, loads)) {
          samples.addLoad(key, await runLoad(spec));
        }
        for (const { key } of variants) {
          samples.addRatio(`${key}.ratio`, `${key}.rps`, 'ceiling.rps');
          samples.addRatio(`${key}.leanRatio`, `${key}.rps`, 'leanCeiling.rps');
        }
      }

      const result: ResultRow[] = [];
      result.push(samples.row(selected.has('case1') ? 'case1' : 'case2', 'Ceiling: bare graphql-yoga, { __typename }', 'req/s', 'ceiling.rps'));
      result.push(samples.row(selected.has('case1') ? 'case1' : 'case2', 'Ceiling: p99 latency', 'ms', 'ceiling.p99'));
      result.push(
        samples.row(
          selected.has('case1') ? 'case1' : 'case2',
          'Bare graphql-yoga without its request-body stream (maxRequestBodySize: false)',
          'req/s',
          'leanCeiling.rps',
        ),
      );
      for (const variant of variants) {
        result.push(samples.row('case2', variant.label, 'req/s', `${variant.key}.rps`));
        result.push(samples.row('case2', `${variant.label}: p99 latency`, 'ms', `${variant.key}.p99`));
        result.push(samples.row('case2', `${variant.label} / ceiling`, 'ratio', `${variant.key}.ratio`, atLeast(ME_GOAL, `≥ ${ME_GOAL}`)));
        result.push(samples.row('case2', `${variant.label} / Yoga without its body stream`, 'ratio', `${variant.key}.leanRatio`));
      }
      return [...result, ...rows];
    } finally {
      await teardown.run();
    }
  },
};
