import type { IncomingMessage } from 'node:http';
import { type BlockList, isIP } from 'node:net';
import { canonicalAddress } from './ip-address.js';
import { trustedProxyList } from './trusted-proxies.js';

/** The address of the peer that opened the connection, in canonical form (see canonicalAddress). */
export function socketAddress(req: IncomingMessage | undefined): string | null {
  const address = req?.socket?.remoteAddress;
  if (!address) return null;
  return plainAddress(address) ?? address;
}

/** Finds the client address of a request; see createClientAddressResolver. */
export type ClientAddressResolver = (req: IncomingMessage | undefined) => string | null;

/**
 * The client address of a request: the socket peer, unless the peer is a trusted proxy, in which
 * case `X-Forwarded-For` is walked from its right end (the entry the nearest proxy appended)
 * leftwards while the address reached is still a trusted proxy. The first untrusted address is
 * the client; everything left of it was written by the client itself and is ignored, so a
 * spoofed header from an untrusted peer changes nothing. With no trusted proxies the header is
 * never read.
 */
export function createClientAddressResolver(trustedProxies: readonly string[]): ClientAddressResolver {
  if (trustedProxies.length === 0) return socketAddress;
  const trusted = trustedProxyList(trustedProxies);
  return (req) => {
    let address = socketAddress(req);
    if (address === null || req === undefined) return address;
    const hops = forwardedFor(req);
    for (let i = hops.length - 1; i >= 0 && isTrusted(trusted, address); i--) {
      const hop = plainAddress(hops[i]!);
      // A trusted proxy only appends addresses; anything else came from an untrusted party, so
      // the walk stops at the proxy that passed it on.
      if (hop === undefined) break;
      address = hop;
    }
    return address;
  };
}

/** The entries of every X-Forwarded-For header, left to right (Node joins repeated headers with ", "). */
function forwardedFor(req: IncomingMessage): string[] {
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined.split(',').map((entry) => entry.trim());
}

function isTrusted(trusted: BlockList, address: string): boolean {
  return trusted.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * An address in canonical form (see canonicalAddress), or undefined when it is not an IP
 * address; the brackets and port some proxies add (`[::1]:443`, `203.0.113.7:51234`) are dropped.
 */
function plainAddress(raw: string): string | undefined {
  let address = raw;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) address = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(':'));
  return canonicalAddress(address);
}
