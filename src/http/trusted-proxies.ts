import { BlockList, isIP } from 'node:net';

/**
 * The proxies whose `X-Forwarded-For` is believed, from TRUSTED_PROXIES entries: CIDRs
 * (`10.0.0.0/8`, `fd00::/8`) or single addresses (`127.0.0.1`, `::1`).
 */
export function trustedProxyList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const { address, family, prefix } = parseTrustedProxy(entry);
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, prefix, family);
  }
  return list;
}

interface ParsedProxy {
  readonly address: string;
  readonly family: 'ipv4' | 'ipv6';
  readonly prefix: number | undefined;
}

/** Parses one TRUSTED_PROXIES entry; a TypeError names the entry that is neither a CIDR nor an address. */
export function parseTrustedProxy(entry: string): ParsedProxy {
  const [address = '', prefixText, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) throw new TypeError(`"${entry}" is not an IP address or CIDR`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (prefixText === undefined) return { address, family, prefix: undefined };
  const maxPrefix = version === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxPrefix) {
    throw new TypeError(`"${entry}" has a prefix length outside 0 to ${maxPrefix}`);
  }
  return { address, family, prefix: Number(prefixText) };
}
