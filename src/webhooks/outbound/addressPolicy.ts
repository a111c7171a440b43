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

/** How an address is judged: its range and, for an IPv6 form that carries an IPv4 address, which one and how. */
export interface AddressClass {
  /**
   * ipaddr.js' name for the range: 'unicast' is the public internet; anything else (private, loopback,
   * linkLocal, carrierGradeNat, uniqueLocal, multicast, unspecified, reserved …) is not.
   */
  range: string;
  /** The IPv4 address the range is that of, and the IPv6 form that carries it. */
  carried?: { ipv4: string; form: string };
}

/**
 * What an address is, for the policy. An IPv6 address that carries an IPv4 address (IPv4-mapped,
 * IPv4-translated, IPv4-compatible, NAT64, 6to4, Teredo) is what that IPv4 address is: the packets
 * end up there. ipaddr.js calls `::7f00:1` (how a URL writes `::127.0.0.1`) plain 'unicast', and 6to4
 * or NAT64 forms of public addresses non-public whatever they carry.
 */
export function classify(address: string): AddressClass {
  if (isIP(address) !== 6) return { range: ipaddr.IPv4.parse(address).range() };
  const ipv6 = parseIPv6(address);
  const own = ipv6.range();
  // `::` and `::1` are IPv6's own, not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1.
  if (own === 'unspecified' || own === 'loopback') return { range: own };
  const carried = carriedIPv4(ipv6);
  if (carried === 'unknown') return { range: 'nat64LocalUse' };
  if (carried) {
    const judged = carried.map(({ ipv4, form }) => ({ range: ipv4.range(), carried: { ipv4: ipv4.toString(), form } }));
    // Teredo carries two addresses: the worst decides (a refused range before loopback before public).
    return (
      judged.find((c) => c.range !== 'unicast' && c.range !== 'loopback') ??
      judged.find((c) => c.range === 'loopback') ??
      judged[0]!
    );
  }
  // Public IPv6 addresses are all in 2000::/3; ipaddr.js calls the unassigned rest (::/8 …) 'unicast' too.
  if (own === 'unicast' && (ipv6.parts[0]! & 0xe000) !== 0x2000) return { range: 'reserved' };
  return { range: own };
}

/** The range of `address` as classify judges it. */
export const rangeOf = (address: string): string => classify(address).range;

/**
 * ipaddr.js reads the deprecated `::a.b.c.d` as `::ffff:a.b.c.d` (so the form would be misnamed); the
 * WHATWG URL parser writes every IPv6 address in hexadecimal groups, which it reads right. The zone
 * (`%eth0`) does not change the range.
 */
function parseIPv6(address: string): ipaddr.IPv6 {
  const [bare = address] = address.split('%');
  return ipaddr.IPv6.parse(new URL(`http://[${bare}]`).hostname.slice(1, -1));
}

const ipv4From = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
const zeros = (parts: number[]) => parts.every((part) => part === 0);

/**
 * The IPv4 addresses an IPv6 address carries, with the form's name; undefined for none; 'unknown' for
 * the local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215), where the address sits depends on the prefix
 * length each network picks (RFC 6052 §2.2), so it cannot be read without knowing that network.
 */
function carriedIPv4(ipv6: ipaddr.IPv6): Array<{ ipv4: ipaddr.IPv4; form: string }> | 'unknown' | undefined {
  const p = ipv6.parts;
  const last32 = () => ipv4From(p[6]!, p[7]!);
  if (zeros(p.slice(0, 5)) && p[5] === 0xffff) return [{ ipv4: last32(), form: 'IPv4-mapped' }]; // ::ffff:a.b.c.d
  if (zeros(p.slice(0, 4)) && p[4] === 0xffff && p[5] === 0) return [{ ipv4: last32(), form: 'IPv4-translated' }]; // ::ffff:0:a.b.c.d (RFC 6145)
  if (zeros(p.slice(0, 6))) return [{ ipv4: last32(), form: 'IPv4-compatible' }]; // ::a.b.c.d (deprecated)
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(p.slice(2, 6))) return [{ ipv4: last32(), form: 'NAT64' }]; // 64:ff9b::/96 (RFC 6052)
  if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 1) return 'unknown';
  if (p[0] === 0x2002) return [{ ipv4: ipv4From(p[1]!, p[2]!), form: '6to4' }]; // 2002:AABB:CCDD::/48 (RFC 3056)
  if (p[0] === 0x2001 && p[1] === 0) {
    // Teredo (RFC 4380): the server's address in bits 32-63, the client's inverted in the last 32; both are reached.
    return [
      { ipv4: ipv4From(p[2]!, p[3]!), form: 'Teredo server' },
      { ipv4: ipv4From(p[6]! ^ 0xffff, p[7]! ^ 0xffff), form: 'Teredo client' },
    ];
  }
  return undefined;
}

/** Why `address` may not be connected to under `rules`, or undefined when it may. */
export function refusalOf(address: string, rules: AddressRules): string | undefined {
  if (isIP(address) === 0) return `${address} is not an IP address`;
  if (rules.allowPrivate) return undefined;
  const { range, carried } = classify(address);
  if (range === 'unicast' || (rules.allowLoopback && range === 'loopback')) return undefined;
  const which = carried ? `${address} (${carried.form} form of ${carried.ipv4})` : address;
  return `refused to connect to ${which}: a ${range} address (set WEBHOOK_ALLOW_PRIVATE=true to allow private addresses)`;
}

function check(address: string, rules: AddressRules): CheckedAddress {
  const refusal = refusalOf(address, rules);
  if (refusal !== undefined) throw new AddressRefused(refusal);
  return { address, family: isIP(address) === 4 ? 4 : 6 };
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
