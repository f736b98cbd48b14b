// IPv4 prefixes as integers. Strings are parsed once, at the edge (flags, KubeLink specs),
// with ip-cidr; everything after that - route lookup, overlap checks, packet checks - is
// integer math on unsigned 32-bit values.
import IPCIDR from 'ip-cidr';
import type { Ipv4Prefix } from './types.js';
import type { ParseResult } from './parse-result.js';

const IPV4_DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted IPv4 address; returns undefined when it is not one. */
export function parseIpv4(text: string): number | undefined {
  const m = IPV4_DOTTED.exec(text.trim());
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value >>> 0;
}

export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}`;
}

/** Netmask of a prefix length as an unsigned integer (0 for /0). */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

export function prefixContains(prefix: Ipv4Prefix, address: number): boolean {
  return ((address & prefixMask(prefix.prefixLength)) >>> 0) === prefix.network;
}

export function prefixesOverlap(a: Ipv4Prefix, b: Ipv4Prefix): boolean {
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const mask = prefixMask(shorter);
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

export function formatPrefix(prefix: Ipv4Prefix): string {
  return `${formatIpv4(prefix.network)}/${prefix.prefixLength}`;
}

/** An address with its prefix length, e.g. a cluster address 192.168.0.11/24. */
export interface Ipv4Interface {
  address: number;
  prefixLength: number;
}

function splitCidr(text: string): ParseResult<{ address: number; prefixLength: number }> {
  const trimmed = text.trim();
  if (!trimmed.includes('/')) return { ok: false, reason: 'expected an IPv4 CIDR like 10.0.0.0/16 (missing /prefix-length)' };
  if (!IPCIDR.isValidCIDR(trimmed)) return { ok: false, reason: 'not a valid CIDR' };
  const [addressText, lengthText] = trimmed.split('/') as [string, string];
  const address = parseIpv4(addressText);
  if (address === undefined) return { ok: false, reason: 'only IPv4 is supported' };
  const prefixLength = Number(lengthText);
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    return { ok: false, reason: 'prefix length must be 0..32' };
  }
  return { ok: true, value: { address, prefixLength } };
}

/**
 * Parses a network prefix such as 100.64.16.0/20. Host bits must be zero, because a
 * route or a KubeLink cidr with host bits set is almost always a typo.
 */
export function parsePrefix(text: string): ParseResult<Ipv4Prefix> {
  const split = splitCidr(text);
  if (!split.ok) return split;
  const { address, prefixLength } = split.value;
  const network = (address & prefixMask(prefixLength)) >>> 0;
  if (network !== address) {
    return { ok: false, reason: `host bits set (did you mean ${formatIpv4(network)}/${prefixLength}?)` };
  }
  return { ok: true, value: { network, prefixLength } };
}

/** Parses an interface address such as 192.168.0.11/24 (host bits expected). */
export function parseInterface(text: string): ParseResult<Ipv4Interface> {
  const split = splitCidr(text);
  if (!split.ok) return split;
  const { address, prefixLength } = split.value;
  if (prefixLength < 32) {
    const mask = prefixMask(prefixLength);
    const host = (address & ~mask) >>> 0;
    if (host === 0) return { ok: false, reason: 'is the network address, not a host address' };
    if (host === (~mask >>> 0)) return { ok: false, reason: 'is the broadcast address, not a host address' };
  }
  return { ok: true, value: { address, prefixLength } };
}

/** The network an interface address belongs to. */
export function interfaceNetwork(iface: Ipv4Interface): Ipv4Prefix {
  return { network: (iface.address & prefixMask(iface.prefixLength)) >>> 0, prefixLength: iface.prefixLength };
}
