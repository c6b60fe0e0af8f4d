import { isIP } from 'node:net';

/** How many leading bits of an IPv6 address one client is taken to control (see clientNetwork). */
export const IPV6_CLIENT_PREFIX_LENGTH = 64;

/**
 * One spelling per address, so that every way of writing it keys the same limits and reads the
 * same in the sessions list: IPv4 in dotted form, also when it arrives IPv4-mapped in IPv6
 * (`::ffff:203.0.113.7` or `::ffff:cb00:7107`, how IPv4 peers show on a dual-stack socket);
 * IPv6 in RFC 5952 form (lower case, longest zero run compressed), without a zone index.
 * Undefined when the text is not an IP address.
 */
export function canonicalAddress(raw: string): string | undefined {
  const version = isIP(raw);
  if (version === 4) return raw;
  if (version !== 6) return undefined;
  const groups = ipv6Groups(raw);
  const mappedIpv4 = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff;
  if (mappedIpv4) return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  return ipv6Text(raw);
}

/**
 * The network a client address stands for when counting per client. An IPv4 address is its own
 * network. An IPv6 client is routinely given a whole /64 and can pick a fresh address from it
 * for every request, so counting per IPv6 address would give each such client 2^64 allowances.
 */
export function clientNetwork(address: string): string {
  if (isIP(address) !== 6) return address;
  const prefixGroups = IPV6_CLIENT_PREFIX_LENGTH / 16;
  const network = ipv6Groups(address).map((group, i) => (i < prefixGroups ? group : 0));
  return `${ipv6Text(network.map((group) => group.toString(16)).join(':'))}/${IPV6_CLIENT_PREFIX_LENGTH}`;
}

/** RFC 5952 text of a valid IPv6 address, from the WHATWG URL host serializer. */
function ipv6Text(address: string): string {
  return new URL(`http://[${withoutZone(address)}]/`).hostname.slice(1, -1);
}

/** The eight 16-bit groups of a valid IPv6 address. */
function ipv6Groups(address: string): number[] {
  // The URL serializer writes hexadecimal groups only (an embedded IPv4 tail included) and at
  // most one "::", which leaves a plain split to expand it.
  const [head = '', tail] = ipv6Text(address).split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  if (tail === undefined) return parse(head);
  const [left, right] = [parse(head), parse(tail)];
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/** Link-local addresses may carry a zone index (`fe80::1%eth0`): local routing, not identity. */
function withoutZone(address: string): string {
  const zone = address.indexOf('%');
  return zone === -1 ? address : address.slice(0, zone);
}
