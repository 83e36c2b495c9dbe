// Which addresses the git proxy may connect to: public ones only. Loopback, private,
// link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, multicast and reserved
// ranges are refused after DNS resolution — whatever spelling the URL used (0x7f000001,
// [::ffff:127.0.0.1], a name that resolves to 10.0.0.1). The proxy then connects to the very
// address it checked, so a second DNS answer cannot slip in (no rebinding gap).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// Two lists: Node's BlockList counts every IPv4 address as inside ::ffff:0:0/96, so the
// families are kept apart.
const BLOCKED_V4 = new BlockList();
const BLOCKED_V6 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED_V4.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback (::1) and the old IPv4-compatible form
  ['::ffff:0:0', 96], // IPv4-mapped: refused whatever they hold
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED_V6.addSubnet(net, bits, 'ipv6');

export function addressBlocked(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED_V4.check(address, 'ipv4');
  if (family === 6) return BLOCKED_V6.check(address, 'ipv6');
  return true;
}

export interface Resolved {
  address: string;
  family: 4 | 6;
}

/** Resolves `hostname` once: the address to connect to, and the first non-public one it has, if any. */
export async function resolveHost(hostname: string): Promise<Resolved & { blocked?: string }> {
  const name = hostname.replace(/^\[|\]$/g, '');
  const all = await lookup(name, { all: true, verbatim: true });
  if (all.length === 0) throw new Error('no address');
  const bad = all.find((a) => addressBlocked(a.address));
  return { address: all[0].address, family: all[0].family as 4 | 6, blocked: bad?.address };
}

/** A `lookup` for http(s).request that answers with an address resolved beforehand. */
export function pinnedLookup(r: Resolved) {
  return (_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: r.address, family: r.family }]);
    else cb(null, r.address, r.family);
  };
}
