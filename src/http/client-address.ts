import type { IncomingMessage } from 'node:http';

/** The address of the peer that opened the connection. */
export function socketAddress(req: IncomingMessage | undefined): string | null {
  const address = req?.socket?.remoteAddress;
  if (!address) return null;
  // IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d; store the plain form.
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}
