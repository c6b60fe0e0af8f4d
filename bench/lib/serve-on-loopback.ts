import { createServer, type RequestListener } from 'node:http';

/**
 * A bench server's process: serves `handler` on a loopback port the OS picks, prints
 * `{"ready":true,"port":N}` for startServerProcess (readiness `ready-line`), and exits on
 * SIGTERM once `dispose` (if any) is done.
 */
export function serveOnLoopback(handler: RequestListener, dispose: () => unknown = () => undefined): void {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ ready: true, port: typeof address === 'object' && address ? address.port : 0 })}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void Promise.resolve(dispose()).finally(() => process.exit(0));
  });
}
