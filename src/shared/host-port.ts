// Host names, ports and `host[:port]` endpoints, parsed once at the edge (flags and
// KubeLink specs) so the rest of the code never re-parses a string.
import { parseIpv4 } from './cidr.js';
import type { ParseResult } from './parse-result.js';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_DNS_NAME_LENGTH = 253;

/**
 * True for a DNS name in the RFC 1123 sense (lower-case letters, digits, '-', labels of
 * 1..63 characters, at most 253 in all). An all-numeric dotted name is not a DNS name: it
 * is either an IPv4 address or a typo of one, and resolvers would treat it as an address.
 */
export function isDnsName(text: string): boolean {
  if (text.length === 0 || text.length > MAX_DNS_NAME_LENGTH) return false;
  const labels = text.split('.');
  if (!labels.every((label) => DNS_LABEL.test(label))) return false;
  return !labels.every((label) => /^\d+$/.test(label));
}

/** True for one RFC 1123 label (lower-case letters, digits, '-', 1..63 characters). */
export function isDnsLabel(text: string): boolean {
  return DNS_LABEL.test(text);
}

/** Lower-cases a host and drops a trailing root dot, so equal names compare equal. */
export function normalizeHost(text: string): string {
  const lower = text.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Parses a decimal port in `min..65535`; returns undefined for anything else. */
export function parsePort(text: string, min = 1): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= min && port <= 65535 ? port : undefined;
}

export interface HostPort {
  /** Normalized host: a DNS name (lower case, no trailing dot) or a dotted IPv4 address. */
  host: string;
  port: number;
}

/** Parses `host[:port]` where host is a DNS name or an IPv4 address. */
export function parseHostPort(text: string, defaultPort: number): ParseResult<HostPort> {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, reason: 'is empty (expected host[:port])' };
  if (trimmed.includes('://')) return { ok: false, reason: 'must be host[:port], without a URL scheme' };
  const colon = trimmed.lastIndexOf(':');
  const hostText = colon < 0 ? trimmed : trimmed.slice(0, colon);
  let port = defaultPort;
  if (colon >= 0) {
    const parsed = parsePort(trimmed.slice(colon + 1));
    if (parsed === undefined) return { ok: false, reason: 'port must be an integer 1..65535' };
    port = parsed;
  }
  const host = normalizeHost(hostText);
  if (parseIpv4(host) !== undefined) return { ok: true, value: { host, port } };
  if (!isDnsName(host)) return { ok: false, reason: 'host is neither a DNS name nor an IPv4 address' };
  return { ok: true, value: { host, port } };
}
