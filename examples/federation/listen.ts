import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A subgraph listening: its GraphQL URL and how to stop it. */
export interface Listening {
  /** `http://host:port/graphql` */
  readonly url: string;
  /** Stops accepting, cuts open connections, and resolves once the server is closed. */
  close(): Promise<void>;
}

/** Serves `handler` (a Yoga instance) on host:port (0: one the OS picks). */
export async function listen(handler: RequestListener, port: number, host: string): Promise<Listening> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
