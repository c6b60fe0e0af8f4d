import { setTimeout as sleep } from 'node:timers/promises';
import { residentBytes } from '../lib/processes.js';
import { openIdleConnections } from '../lib/websocket-load.js';
import type { WsDriverSpec } from '../lib/ws-driver.js';
import { Teardown } from '../lib/teardown.js';
import { gatewayWithAccount } from '../servers/gateway.js';
import { type BenchCase, type ResultRow, Samples, unavailableRow } from './case.js';

/** Handshakes in flight at once while opening connections. */
export const HANDSHAKE_CONCURRENCY = 50;
/** Idle time before reading the gateway's memory, so that connection setup has settled. */
const SETTLE_MS = 2_000;
const WARMUP_CONNECTIONS = 50;
const MIB = 1024 * 1024;

/**
 * Case 7: authenticated graphql-ws connections opened per second (each handshake carrying the
 * access token in connection_init), and the gateway's resident memory per 1,000 idle
 * authenticated connections (RSS with the connections open, minus RSS before, scaled).
 * Detected by trying one connection: "not available yet" until the endpoint acknowledges it.
 */
export const websocketConnections: BenchCase = {
  ids: ['case7'],
  title: 'WebSocket connections',
  async run({ options, log }) {
    const teardown = new Teardown();
    try {
      // One user opens every connection here, so the per-user limit is lifted above the count.
      const { gateway, account } = await gatewayWithAccount(teardown, 'sqlite', options.postgresUrl, {
        MAX_CONNECTIONS_PER_USER: String(options.wsConnections + WARMUP_CONNECTIONS),
      });
      const spec = (count: number): WsDriverSpec => ({ url: gateway.wsUrl, accessToken: account.accessToken, count, concurrency: HANDSHAKE_CONCURRENCY });

      const trial = await openIdleConnections(spec(1));
      await trial.close();
      if (trial.report.opened !== 1) {
        const why = trial.report.firstCloseCode === null ? 'no acknowledgement' : `closed with ${trial.report.firstCloseCode}`;
        const reason = `not available yet: an authenticated graphql-ws connection to ${new URL(gateway.wsUrl).pathname} got ${why}`;
        return [
          unavailableRow('case7', 'WebSocket connections opened', 'conn/s', reason),
          unavailableRow('case7', 'Memory per 1,000 idle connections', 'MiB', reason),
        ];
      }
      const warm = await openIdleConnections(spec(Math.min(WARMUP_CONNECTIONS, options.wsConnections)));
      await warm.close();

      const samples = new Samples();
      for (let run = 1; run <= options.runs; run++) {
        log(`run ${run}/${options.runs}`);
        await sleep(SETTLE_MS);
        const before = await residentBytes(gateway.pid);
        const idle = await openIdleConnections(spec(options.wsConnections));
        try {
          const { opened, failed, seconds } = idle.report;
          samples.add('opened', opened / seconds, failed);
          await sleep(SETTLE_MS);
          const after = await residentBytes(gateway.pid);
          samples.add('memory', opened === 0 ? Number.NaN : (((after - before) / opened) * 1000) / MIB, failed);
        } finally {
          await idle.close();
        }
      }
      const rows: ResultRow[] = [
        samples.row(
          'case7',
          `WebSocket connections opened (${options.wsConnections.toLocaleString('en-US')}, ${HANDSHAKE_CONCURRENCY} handshakes at a time)`,
          'conn/s',
          'opened',
        ),
        samples.row('case7', 'Gateway RSS per 1,000 idle authenticated connections', 'MiB', 'memory'),
      ];
      return rows;
    } finally {
      await teardown.run();
    }
  },
};
