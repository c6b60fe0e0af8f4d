import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inclusiveSamples, hasFramesIn, type CpuProfile } from '../lib/cpu-profile.js';
import { dataOf, graphqlRequest } from '../lib/graphql-request.js';
import { InspectorProfiler, inspectOption } from '../lib/inspector-profiler.js';
import { graphqlBody, probe, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { ME_ORDERS_QUERY } from '../lib/operations.js';
import { compiledBenchScript, freePort, PROJECT_ROOT, startServerProcess } from '../lib/processes.js';
import { Teardown } from '../lib/teardown.js';
import { ordersOf } from '../lib/user-orders.js';
import type { BenchAccount } from '../lib/accounts.js';
import { type GatewayServer, gatewayWithAccount } from '../servers/gateway.js';
import { atLeast, type BenchCase, below, inAlternatingOrder, Samples } from './case.js';

const RATIO_GOAL = 0.9;
const MINTING_GOAL_PERCENT = 5;
/** The subgraph's name in both supergraphs, and so the audience of the gateway's identity tokens for it. */
const SUBGRAPH_NAME = 'orders';

/** The compiled modules whose share of the profiled gateway's CPU is reported. */
const GATEWAY_BUILD = join(PROJECT_ROOT, 'dist', 'src');
const IDENTITY_TOKENS_SCRIPT = join(GATEWAY_BUILD, 'federation', 'identity-tokens.js');
const SUBGRAPH_REQUESTS_SCRIPT = join(GATEWAY_BUILD, 'federation', 'use-subgraph-requests.js');

/**
 * Case 9 (issue 14): `{ me { id orders { id } } }` through the gateway routing a supergraph with
 * an orders subgraph, against bare Hive Gateway (the same runtime version, its own JWT plugin
 * verifying the same access token) over the same subgraph process; ratio per run. Then the
 * share of the gateway's CPU spent minting identity tokens (IdentityTokens, with its cache),
 * from a CPU profile of a second, identical gateway taken through its inspector during the same
 * load.
 */
export const federation: BenchCase = {
  ids: ['case9'],
  title: 'Federation: gateway against bare Hive Gateway',
  async run({ options, log }) {
    for (const script of [IDENTITY_TOKENS_SCRIPT, SUBGRAPH_REQUESTS_SCRIPT]) {
      if (!existsSync(script)) throw new Error(`${script} is not in the build: no profile sample can be attributed to it`);
    }
    const teardown = new Teardown();
    try {
      const subgraph = teardown.add(
        await startServerProcess({
          script: compiledBenchScript('servers/orders-subgraph.ts'),
          env: { NODE_ENV: 'production' },
          readiness: { kind: 'ready-line' },
        }),
        (server) => server.stop(),
      );
      const subgraphUrl = `${subgraph.origin}/graphql`;
      // ES256 pinned: jsonwebtoken, under Hive's JWT plugin, verifies no EdDSA.
      const federationEnv = { SUBGRAPHS: `${SUBGRAPH_NAME}=${subgraphUrl}`, JWT_ALGORITHM: 'ES256' };
      const { gateway, account } = await gatewayWithAccount(teardown, 'sqlite', options.postgresUrl, federationEnv);
      const hive = teardown.add(
        await startServerProcess({
          script: compiledBenchScript('servers/bare-hive-gateway.ts'),
          env: {
            NODE_ENV: 'production',
            BARE_HIVE_SUBGRAPH_NAME: SUBGRAPH_NAME,
            BARE_HIVE_SUBGRAPH_URL: subgraphUrl,
            BARE_HIVE_JWKS_URI: gateway.jwt.jwksUrl,
            BARE_HIVE_JWT_ISSUER: gateway.jwt.issuer,
            BARE_HIVE_JWT_AUDIENCE: gateway.jwt.audience,
            BARE_HIVE_JWT_ALGORITHM: gateway.jwt.algorithm,
          },
          readiness: { kind: 'ready-line' },
        }),
        (server) => server.stop(),
      );
      // The profiled gateway: the same build and settings, with its inspector open on a loopback port.
      const inspectorPort = await freePort();
      const profiled = await gatewayWithAccount(teardown, 'sqlite', options.postgresUrl, { ...federationEnv, NODE_OPTIONS: inspectOption(inspectorPort) });
      const profiler = teardown.add(await InspectorProfiler.connect(inspectorPort), (session) => session.close());

      const load = { connections: options.connections, durationSeconds: options.durationSeconds, body: graphqlBody(ME_ORDERS_QUERY) };
      const ours = await meOrdersSpec(load, gateway, account);
      // The same token and the same expected answer: Hive verifies the gateway's access token.
      const theirs: LoadSpec = { ...ours, url: `${hive.origin}/graphql` };
      const profiledSpec = await meOrdersSpec(load, profiled.gateway, profiled.account);
      for (const spec of [ours, theirs, profiledSpec]) {
        await probe(spec);
        await warmUp(spec, options.warmupSeconds);
      }

      const samples = new Samples();
      const totals = { tokens: 0, hook: 0, busy: 0 };
      for (let run = 1; run <= options.runs; run++) {
        log(`run ${run}/${options.runs}`);
        for (const [key, spec] of inAlternatingOrder(run, [
          ['hive', theirs],
          ['gateway', ours],
        ] as const)) {
          samples.addLoad(key, await runLoad(spec));
        }
        samples.addRatio('ratio', 'gateway.rps', 'hive.rps');

        const { profile, result } = await profiler.during(() => runLoad(profiledSpec));
        checkAttributable(profile);
        const tokens = inclusiveSamples(profile, inScript(IDENTITY_TOKENS_SCRIPT));
        const hook = inclusiveSamples(profile, inScript(SUBGRAPH_REQUESTS_SCRIPT));
        samples.add('tokens', (100 * tokens.inclusive) / tokens.busy, result.failures);
        samples.add('hook', (100 * hook.inclusive) / hook.busy, result.failures);
        totals.tokens += tokens.inclusive;
        totals.hook += hook.inclusive;
        totals.busy += tokens.busy;
      }

      const busy = totals.busy.toLocaleString('en-US');
      return [
        samples.row('case9', 'Bare Hive Gateway + its JWT plugin, { me { id orders { id } } }', 'req/s', 'hive.rps'),
        samples.row('case9', 'Bare Hive Gateway: p99 latency', 'ms', 'hive.p99'),
        samples.row('case9', 'Gateway with SUBGRAPHS=orders, { me { id orders { id } } }', 'req/s', 'gateway.rps'),
        samples.row('case9', 'Gateway: p99 latency', 'ms', 'gateway.p99'),
        samples.row('case9', 'Gateway / bare Hive Gateway', 'ratio', 'ratio', atLeast(RATIO_GOAL, `≥ ${RATIO_GOAL}`)),
        samples.row(
          'case9',
          'Minting identity tokens (IdentityTokens, with the cache): share of the gateway’s busy CPU',
          '%',
          'tokens',
          below(MINTING_GOAL_PERCENT, `< ${MINTING_GOAL_PERCENT} %`),
          `${totals.tokens.toLocaleString('en-US')} of ${busy} busy samples over all runs`,
        ),
        samples.row(
          'case9',
          'Subgraph request hook (identity token and headers): share of the gateway’s busy CPU',
          '%',
          'hook',
          undefined,
          `${totals.hook.toLocaleString('en-US')} of ${busy} busy samples over all runs`,
        ),
      ];
    } finally {
      await teardown.run();
    }
  },
};

/** The load of `{ me { id orders { id } } }` on the gateway with the account's access token, and the one answer each request must get. */
async function meOrdersSpec(
  load: Pick<LoadSpec, 'connections' | 'durationSeconds' | 'body'>,
  gateway: GatewayServer,
  account: BenchAccount,
): Promise<LoadSpec> {
  const headers = { authorization: `Bearer ${account.accessToken}` };
  const { me } = dataOf(await graphqlRequest<{ me: { id: string } }>(gateway.url, '{ me { id } }', undefined, headers), 'me');
  return { ...load, url: gateway.url, headers, expect: { kind: 'exact', body: JSON.stringify({ data: { me: { id: me.id, orders: ordersOf(me.id) } } }) } };
}

/** Matches the frames of one compiled script of the gateway (V8 names them by file URL). */
function inScript(path: string): (url: string) => boolean {
  const href = pathToFileURL(path).href;
  return (url) => url === href;
}

/**
 * A share of zero must mean "no time there", never "frames named otherwise than expected": the
 * profile has to show the gateway's build by the same kind of file URL as the scripts matched.
 */
function checkAttributable(profile: CpuProfile): void {
  const build = `${pathToFileURL(GATEWAY_BUILD).href}/`;
  if (!hasFramesIn(profile, (url) => url.startsWith(build))) throw new Error(`the profile shows no frame under ${build}: its samples cannot be attributed`);
}
