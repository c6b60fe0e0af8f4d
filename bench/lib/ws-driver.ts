/**
 * Opens authenticated graphql-ws connections, in its own process. Reads a WsDriverSpec as JSON
 * on the first stdin line, opens `count` connections (at most `concurrency` handshakes at a
 * time, each sending the access token in connection_init), and writes a WsOpenedReport line once
 * every handshake has ended. The connections then stay open, idle, until a `close` line arrives
 * on stdin; it closes them all and exits.
 */
import { createInterface } from 'node:readline';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface WsDriverSpec {
  readonly url: string;
  readonly accessToken: string;
  readonly count: number;
  readonly concurrency: number;
}

export interface WsOpenedReport {
  /** Connections acknowledged by the server (connection_ack). */
  readonly opened: number;
  readonly failed: number;
  /** The first close code of a refused connection, to tell why. */
  readonly firstCloseCode: number | null;
  readonly seconds: number;
}

const HANDSHAKE_TIMEOUT_MS = 10_000;

/** One connection; resolves true once acknowledged, false once closed or timed out without. */
function connect(spec: WsDriverSpec, clients: Client[], closeCodes: number[]): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), HANDSHAKE_TIMEOUT_MS);
    const client = createClient({
      url: spec.url,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${spec.accessToken}` },
      onNonLazyError: () => {},
      on: {
        connected: () => {
          clearTimeout(timer);
          resolve(true);
        },
        closed: (event) => {
          closeCodes.push((event as { code?: number }).code ?? 0);
          clearTimeout(timer);
          resolve(false);
        },
      },
    });
    clients.push(client);
  });
}

const lines = createInterface({ input: process.stdin });
const iterator = lines[Symbol.asyncIterator]();
const first = await iterator.next();
const spec = JSON.parse(String(first.value)) as WsDriverSpec;

const clients: Client[] = [];
const closeCodes: number[] = [];
let next = 0;
let opened = 0;
const started = performance.now();
const worker = async () => {
  while (next < spec.count) {
    next++;
    if (await connect(spec, clients, closeCodes)) opened++;
  }
};
await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.count) }, worker));
const report: WsOpenedReport = {
  opened,
  failed: spec.count - opened,
  firstCloseCode: closeCodes[0] ?? null,
  seconds: (performance.now() - started) / 1000,
};
process.stdout.write(`${JSON.stringify(report)}\n`);

for (;;) {
  const line = await iterator.next();
  if (line.done || String(line.value).trim() === 'close') break;
}
await Promise.all(clients.map((client) => client.dispose()));
process.exit(0);
