// Certificate revocation lists (X.509 CRLs, RFC 5280), PEM "X509 CRL" blocks from the
// Secret's ca.crl or --crl-file. OpenSSL (Node's tls `crl` option) enforces them in new
// handshakes; this module lets the broker check a CRL when it is loaded (parses, signed by
// a CA of the bundle, not expired) and lets a shard find the established connections
// whose peer certificate a new CRL revokes, which the TLS layer never re-checks.
// The ASN.1 comes from @peculiar/asn1-x509 (no hand-written DER walking).
import { X509Certificate, createPublicKey, verify } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import type { ParseResult } from './parse-result.js';

const PEM_CRL = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/g;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** OIDs of the signature algorithms a CRL may use, and the digest each implies. */
const SIGNATURE_DIGESTS: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/** What a shard needs: the serials each issuing CA revoked. */
export interface Revocations {
  /** CA certificate fingerprint (sha256, as X509Certificate.fingerprint256) -> revoked serials (upper-case hex, no leading zeros). */
  byIssuer: Map<string, Set<string>>;
  /** When the earliest CRL stops being valid (nextUpdate), if any CRL names one. */
  nextUpdate?: Date;
}

export const NO_REVOCATIONS: Revocations = { byIssuer: new Map() };

/** Serial numbers in one spelling: Node's getPeerCertificate().serialNumber is upper-case hex. */
export function normalizeSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

/**
 * Parses the CRLs in `pem` and checks each against the CA bundle `caPem`: it must be signed
 * by one of those CAs and, when it names a nextUpdate, not have expired at `now`.
 */
export function parseRevocations(pem: string, caPem: string, now: Date = new Date()): ParseResult<Revocations> {
  const blocks = [...pem.matchAll(PEM_CRL)];
  if (blocks.length === 0) return { ok: false, reason: 'holds no PEM "X509 CRL" block' };
  const cas = (caPem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block));
  const byIssuer = new Map<string, Set<string>>();
  let nextUpdate: Date | undefined;
  for (const [index, block] of blocks.entries()) {
    let crl: CertificateList;
    let der: Buffer;
    try {
      der = Buffer.from(block[1]!.replace(/\s+/g, ''), 'base64');
      crl = AsnConvert.parse(der, CertificateList);
    } catch (err) {
      return { ok: false, reason: `CRL ${index} does not parse: ${(err as Error).message}` };
    }
    const tbs = Buffer.from(AsnConvert.serialize(crl.tbsCertList));
    const digest = SIGNATURE_DIGESTS[crl.signatureAlgorithm.algorithm];
    if (digest === undefined) return { ok: false, reason: `CRL ${index} uses an unsupported signature algorithm ${crl.signatureAlgorithm.algorithm}` };
    const signature = Buffer.from(crl.signature);
    const issuer = cas.find((ca) => {
      try {
        return verify(digest, tbs, createPublicKey(ca.publicKey.export({ type: 'spki', format: 'pem' })), signature);
      } catch {
        return false;
      }
    });
    if (!issuer) return { ok: false, reason: `CRL ${index} is not signed by a CA of the bundle` };
    const until = crl.tbsCertList.nextUpdate?.getTime();
    if (until !== undefined && until.getTime() < now.getTime()) {
      return { ok: false, reason: `CRL ${index} expired at ${until.toISOString()} (nextUpdate): peers would all be refused` };
    }
    if (until !== undefined && (nextUpdate === undefined || until < nextUpdate)) nextUpdate = until;
    const serials = byIssuer.get(issuer.fingerprint256) ?? new Set<string>();
    for (const revoked of crl.tbsCertList.revokedCertificates ?? []) {
      serials.add(normalizeSerial(Buffer.from(revoked.userCertificate).toString('hex')));
    }
    byIssuer.set(issuer.fingerprint256, serials);
  }
  return { ok: true, value: { byIssuer, nextUpdate } };
}

/** The subset of tls.DetailedPeerCertificate this needs. */
export interface PeerCertificateChain {
  serialNumber?: string;
  fingerprint256?: string;
  issuerCertificate?: PeerCertificateChain;
}

/** The revoked serial when a certificate of the peer's chain is revoked, else undefined. */
export function revokedInChain(chain: PeerCertificateChain | undefined, revocations: Revocations): string | undefined {
  for (let cert = chain, depth = 0; cert?.serialNumber && depth < 10; depth++) {
    const issuer = cert.issuerCertificate;
    if (!issuer?.fingerprint256) return undefined;
    if (revocations.byIssuer.get(issuer.fingerprint256)?.has(normalizeSerial(cert.serialNumber))) return normalizeSerial(cert.serialNumber);
    if (issuer === cert) return undefined; // the self-signed root
    cert = issuer;
  }
  return undefined;
}
