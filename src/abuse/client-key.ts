import { clientNetwork } from '../http/ip-address.js';

/** The key for clients whose address is unknown (no socket, e.g. an in-process request). */
const UNKNOWN_CLIENT = 'unknown';

/** The key a client is counted under: its IP address, or its /64 for IPv6 (see clientNetwork). */
export function clientKey(clientIp: string | null): string {
  return clientIp === null ? UNKNOWN_CLIENT : clientNetwork(clientIp);
}
