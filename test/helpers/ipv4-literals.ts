// IPv4 literals for tests: parse or throw, so a typo in a test fails loudly at its line.
import { parseInterface, parseIpv4, parsePrefix, type Ipv4Interface } from '../../src/shared/cidr.js';
import type { Ipv4Prefix } from '../../src/shared/types.js';

export function prefix(text: string): Ipv4Prefix {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return r.value;
}

export function ip4(text: string): number {
  const a = parseIpv4(text);
  if (a === undefined) throw new Error(`${text}: not an IPv4 address`);
  return a;
}

export function iface(text: string): Ipv4Interface {
  const r = parseInterface(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return r.value;
}
