import { isIP } from 'node:net';

/**
 * The host name to put in a URL for a listening address: a wildcard address (every interface)
 * becomes the loopback address of its family, which a browser on the same machine can open, and
 * an IPv6 address is bracketed.
 */
export function urlHostOf(listenHost: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '') return '127.0.0.1';
  if (listenHost === '::' || listenHost === '[::]') return '[::1]';
  return isIP(listenHost) === 6 ? `[${listenHost}]` : listenHost;
}

/**
 * The gateway's own base URL on this machine (`http://127.0.0.1:4000`): what the start-up banner
 * prints and the default issuer. Its host name is the listening address itself, so that a page
 * opened from it and the gateway share a site and cookie sign-in works.
 */
export function localBaseUrl(listenHost: string, port: number): string {
  return `http://${urlHostOf(listenHost)}:${port}`;
}
