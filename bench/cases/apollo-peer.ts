import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { graphqlBody, probe, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { ME_QUERY } from '../lib/operations.js';
import { compiledBenchScript, startServerProcess } from '../lib/processes.js';
import { gatewayWithAccount } from '../servers/gateway.js';
import { Teardown } from '../lib/teardown.js';
import { above, type BenchCase, inAlternatingOrder, Samples } from './case.js';

const PEER_ISSUER = 'http://peer.bench';
const PEER_AUDIENCE = 'peer-bench';

/**
 * Case 3: `me` on the gateway against `me` on @apollo/server with a jsonwebtoken-verifying
 * context (bench/servers/apollo-peer.ts), as a ratio measured in the same run.
 */
export const apolloPeer: BenchCase = {
  ids: ['case3'],
  title: 'Peer: @apollo/server with jsonwebtoken',
  async run({ options, log }) {
    const load = { connections: options.connections, durationSeconds: options.durationSeconds, expect: { kind: 'data' } as const, body: graphqlBody(ME_QUERY) };
    const secret = randomBytes(32).toString('base64url');
    const userId = randomUUID();
    const teardown = new Teardown();
    try {
      const peerDir = teardown.add(mkdtempSync(join(tmpdir(), 'gateway-bench-peer-')), (dir) => rmSync(dir, { recursive: true, force: true }));
      const peer = teardown.add(
        await startServerProcess({
          script: compiledBenchScript('servers/apollo-peer.ts'),
          env: {
            NODE_ENV: 'production',
            PEER_JWT_SECRET: secret,
            PEER_JWT_ISSUER: PEER_ISSUER,
            PEER_JWT_AUDIENCE: PEER_AUDIENCE,
            PEER_DATABASE: join(peerDir, 'peer.sqlite'),
            PEER_USER_ID: userId,
            PEER_USERNAME: 'bench-peer-user',
          },
          readiness: { kind: 'ready-line' },
        }),
        (server) => server.stop(),
      );
      const { gateway, account } = await gatewayWithAccount(teardown, 'sqlite', options.postgresUrl);
      const peerToken = jwt.sign({}, secret, { algorithm: 'HS256', subject: userId, issuer: PEER_ISSUER, audience: PEER_AUDIENCE, expiresIn: '1h' });
      const ours: LoadSpec = { ...load, url: gateway.url, headers: { authorization: `Bearer ${account.accessToken}` } };
      const theirs: LoadSpec = { ...load, url: `${peer.origin}/`, headers: { authorization: `Bearer ${peerToken}` } };
      for (const spec of [ours, theirs]) {
        await probe(spec);
        await warmUp(spec, options.warmupSeconds);
      }
      const samples = new Samples();
      for (let run = 1; run <= options.runs; run++) {
        log(`run ${run}/${options.runs}`);
        for (const [key, spec] of inAlternatingOrder(run, [
          ['peer', theirs],
          ['gateway', ours],
        ] as const)) {
          samples.addLoad(key, await runLoad(spec));
        }
        samples.addRatio('ratio', 'gateway.rps', 'peer.rps');
      }
      return [
        samples.row('case3', 'Peer: @apollo/server + jsonwebtoken (HS256), me', 'req/s', 'peer.rps'),
        samples.row('case3', 'Peer: p99 latency', 'ms', 'peer.p99'),
        samples.row('case3', 'Gateway: me, access token in the Authorization header', 'req/s', 'gateway.rps'),
        samples.row('case3', 'Gateway: p99 latency', 'ms', 'gateway.p99'),
        samples.row('case3', 'Gateway / peer', 'ratio', 'ratio', above(1, '> 1 (ahead)')),
      ];
    } finally {
      await teardown.run();
    }
  },
};
