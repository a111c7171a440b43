import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** An address a webhook may be sent to, checked; the connection goes to exactly this one. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** The host resolved to an address webhooks must not reach. */
export class AddressRefused extends Error {}

export interface AddressRules {
  /** WEBHOOK_ALLOW_PRIVATE: any address at all (a receiver inside your own network). */
  allowPrivate: boolean;
  /** Loopback addresses are fine (outside production, for a loopback host name; see url.ts). */
  allowLoopback: boolean;
}

/**
 * The kind of address, by ipaddr.js' ranges ('unicast' is the public internet; everything else is
 * private, loopback, link-local, CGNAT, multicast, unspecified, reserved, or a tunnel/translation form
 * that could carry one of those). An IPv4-mapped IPv6 address counts as the IPv4 address it maps.
 */
export function rangeOf(address: string): string {
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) return (parsed as ipaddr.IPv6).toIPv4Address().range();
  return parsed.range();
}

function check(address: string, rules: AddressRules): CheckedAddress {
  const family = isIP(address);
  if (family !== 4 && family !== 6) throw new AddressRefused(`${address} is not an IP address`);
  if (!rules.allowPrivate) {
    const range = rangeOf(address);
    if (range !== 'unicast' && !(rules.allowLoopback && range === 'loopback')) {
      throw new AddressRefused(`refused to connect to ${address}: a ${range} address (set WEBHOOK_ALLOW_PRIVATE=true to allow private addresses)`);
    }
  }
  return { address, family };
}

/**
 * Resolve the host and check every address it has: one disallowed address refuses the delivery (a host
 * that mixes public and private addresses is not one to trust). The caller connects to the address
 * returned, not to the name, so a second DNS answer (rebinding) cannot redirect the connection.
 */
export async function resolveDeliveryAddress(hostname: string, rules: AddressRules): Promise<CheckedAddress> {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (isIP(bare)) return check(bare, rules);
  const addresses = await lookup(bare, { all: true, verbatim: true });
  if (addresses.length === 0) throw new AddressRefused(`${hostname} has no address`);
  const checked = addresses.map(({ address }) => check(address, rules));
  return checked[0]!;
}
