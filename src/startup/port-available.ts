import { createServer } from 'node:net';

/** Why the gateway cannot listen where it was told to: the port is taken, or needs privileges. */
export class PortUnavailableError extends Error {
  override name = 'PortUnavailableError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: 'EADDRINUSE' | 'EACCES' | 'EADDRNOTAVAIL',
  ) {
    super(portUnavailableMessage(host, port, code));
  }
}

/**
 * Binds the address once and lets it go, so that a port already in use stops the start before
 * the database is opened or migrated. Port 0 (any free port) is always available.
 */
export async function checkPortAvailable(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  }).catch((error: NodeJS.ErrnoException) => {
    throw asPortUnavailable(error, host, port) ?? error;
  });
}

/** The listen error as a PortUnavailableError when it is one of the address errors, else undefined. */
export function asPortUnavailable(error: unknown, host: string, port: number): PortUnavailableError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') return new PortUnavailableError(host, port, code);
  return undefined;
}

function portUnavailableMessage(host: string, port: number, code: PortUnavailableError['code']): string {
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use; set PORT to a free port (or stop the program using it)`;
    case 'EACCES':
      return `not allowed to listen on port ${port} on ${host}; set PORT to a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine; set HOST to one of its addresses (127.0.0.1, 0.0.0.0)`;
  }
}
