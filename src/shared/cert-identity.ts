// Who a certificate says it is: its subject CN and DNS (and IP) subject alternative names,
// normalized like endpoint hosts, and the one KubeLink whose endpoint host it names.
// The broker refuses a peer that matches no link or more than one (docs/architecture.md,
// "Security model").
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { ValidLink } from './types.js';
import { normalizeHost } from './host-port.js';

/** Splits a subjectAltName string ("DNS:a, DNS:\"b,c\", IP Address:1.2.3.4") into entries. */
export function splitSubjectAltName(text: string): Array<{ type: string; value: string }> {
  const out: Array<{ type: string; value: string }> = [];
  // Node quotes a value as a JSON string when it contains a separator or quote.
  const re = /\s*([^:,]+):("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)/g;
  for (let m = re.exec(text); m && m[0] !== ''; m = re.exec(text)) {
    const raw = m[2]!.trim();
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        value = raw.slice(1, -1);
      }
    }
    out.push({ type: m[1]!.trim(), value });
  }
  return out;
}

/** CN values from an X509Certificate subject ("CN=a\nO=b"). */
function commonNamesFromSubject(subject: string): string[] {
  return subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
}

function sanNames(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return splitSubjectAltName(subjectAltName)
    .filter((e) => e.type === 'DNS' || e.type === 'IP Address')
    .map((e) => e.value);
}

/**
 * Identity names of a certificate: CN and DNS/IP SANs, lower case without a root dot,
 * without duplicates. Accepts a PEM (the first certificate), an X509Certificate, or the
 * result of `tlsSocket.getPeerCertificate()`.
 */
export function certificateIdentities(cert: string | X509Certificate | PeerCertificate): string[] {
  let names: string[];
  if (typeof cert === 'string' || cert instanceof X509Certificate) {
    const x509 = typeof cert === 'string' ? new X509Certificate(cert) : cert;
    names = [...commonNamesFromSubject(x509.subject), ...sanNames(x509.subjectAltName)];
  } else {
    const cn = cert.subject?.CN as string | string[] | undefined;
    names = [...(Array.isArray(cn) ? cn : cn ? [cn] : []), ...sanNames(cert.subjectaltname)];
  }
  return [...new Set(names.map(normalizeHost).filter((n) => n !== ''))];
}

/** What peer matching needs of a link (a ValidLink, or the shards' ShardLink). */
export type PeerMatchable = Pick<ValidLink, 'name' | 'endpointHost'>;

export type PeerMatch<L extends PeerMatchable = ValidLink> = { ok: true; link: L } | { ok: false; reason: string };

/** The one link whose endpoint host the peer's certificate names. */
export function findLinkForPeer<L extends PeerMatchable>(identities: readonly string[], links: Iterable<L>): PeerMatch<L> {
  const names = new Set(identities);
  const matches = [...links].filter((l) => names.has(l.endpointHost));
  if (matches.length === 1) return { ok: true, link: matches[0]! };
  if (matches.length === 0) {
    return { ok: false, reason: `certificate names [${identities.join(', ')}] match the endpoint host of no link` };
  }
  return { ok: false, reason: `certificate names [${identities.join(', ')}] match several links: ${matches.map((l) => l.name).join(', ')}` };
}
