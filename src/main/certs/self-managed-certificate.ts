// --secret-manage-mode self: when the broker must issue itself a new certificate, and the
// checks of a CA it finds. Pure functions over PEM text and times; secret-tls-source.ts
// does the reading and writing.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { ParseResult } from '../../shared/parse-result.js';
import type { TlsMaterial } from '../../shared/shard-protocol.js';
import { validateCertificateSet } from './cert-files.js';
import { withoutCrl } from './secret-crl.js';
import { normalizeHost } from '../../shared/host-port.js';
import type { CertificateAuthority } from './pki.js';

export interface RenewalPolicy {
  /** The name the certificate must carry (CN and DNS SAN): the broker's endpoint host. */
  dnsName: string;
  /** Renew when the certificate expires sooner than this. */
  renewBeforeMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Same certificate, whatever the line endings and surrounding whitespace. */
function samePem(a: string, b: string): boolean {
  const norm = (s: string): string => s.replace(/\r\n/g, '\n').trim();
  return norm(a) === norm(b);
}

/**
 * Why the material must be replaced, or undefined when it is fine: missing, invalid, not
 * naming dnsName, expiring within renewBeforeMs, or (when `currentCaPem` is given) not
 * bundling the current CA, i.e. the CA was replaced. The CRL is not judged here: a new
 * certificate cannot repair it (see secret-crl.ts).
 */
export function renewalReason(material: ParseResult<TlsMaterial> | undefined, policy: RenewalPolicy, nowMs: number, currentCaPem?: string): string | undefined {
  if (!material) return 'the Secret does not exist';
  if (!material.ok) return material.reason;
  const checked = validateCertificateSet(withoutCrl(material.value));
  if (!checked.ok) return `its certificate is not usable: ${checked.reason}`;
  const name = normalizeHost(policy.dnsName);
  if (!checked.value.identities.includes(name)) return `its certificate names ${checked.value.identities.join(', ') || 'nothing'}, not ${name}`;
  const remainingMs = checked.value.notAfter.getTime() - nowMs;
  if (remainingMs < policy.renewBeforeMs) {
    return `its certificate expires at ${checked.value.notAfter.toISOString()} (in ${Math.floor(remainingMs / DAY_MS)} days; renewal ${Math.round(policy.renewBeforeMs / DAY_MS)} days before)`;
  }
  if (currentCaPem !== undefined && !samePem(material.value.ca, currentCaPem)) return 'its CA bundle is not the current CA';
  return undefined;
}

/** A CA found in the CA Secret is usable: it parses, is a CA, and the key belongs to it. */
export function checkCa(ca: CertificateAuthority, nowMs: number): ParseResult<{ notAfter: Date }> {
  try {
    const cert = new X509Certificate(ca.certPem);
    if (!cert.ca) return { ok: false, reason: 'ca.crt is not a CA certificate (basicConstraints CA:false)' };
    if (!cert.checkPrivateKey(createPrivateKey(ca.keyPem))) return { ok: false, reason: 'ca.key does not belong to ca.crt' };
    const notAfter = new Date(Date.parse(cert.validTo));
    if (notAfter.getTime() <= nowMs) return { ok: false, reason: `the CA expired at ${notAfter.toISOString()}` };
    return { ok: true, value: { notAfter } };
  } catch (err) {
    return { ok: false, reason: `ca.crt or ca.key does not parse: ${(err as Error).message}` };
  }
}
