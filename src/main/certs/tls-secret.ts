// The two Secrets of the certificate handling, as data:
//   <secret>     kubernetes.io/tls: tls.crt, tls.key, ca.crt (what the broker uses; the
//                standard shape cert-management and cert-manager maintain)
//   <secret>-ca  Opaque: ca.crt, ca.key (only --secret-manage-mode self: the CA that issues
//                the certificate)
// The CA lives in a Secret of its own so the TLS Secret stays standard and the CA key is
// never copied along with it, and so one CA can be shared by several clusters: copy
// <secret>-ca into each cluster before the brokers start and they all issue from it, so
// their certificates verify each other.
import type { V1Secret } from '@kubernetes/client-node';
import type { ParseResult } from '../../shared/parse-result.js';
import type { TlsMaterial } from '../../shared/shard-protocol.js';
import type { CertificateAuthority } from './pki.js';

export const TLS_CERT_KEY = 'tls.crt';
export const TLS_KEY_KEY = 'tls.key';
export const CA_CERT_KEY = 'ca.crt';
/** Optional: CRLs of the CA, to shut out a stolen certificate without a new CA. */
export const CA_CRL_KEY = 'ca.crl';
export const CA_KEY_KEY = 'ca.key';
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

export function caSecretName(secretName: string): string {
  return `${secretName}-ca`;
}

function decoded(secret: V1Secret, key: string): string | undefined {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

function encoded(entries: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]));
}

function missingKeys(secret: V1Secret, keys: string[]): string[] {
  return keys.filter((k) => !secret.data?.[k]);
}

/** Certificate, key and CA bundle of a TLS Secret (not validated beyond presence). */
export function tlsMaterialFromSecret(secret: V1Secret): ParseResult<TlsMaterial> {
  const missing = missingKeys(secret, [TLS_CERT_KEY, TLS_KEY_KEY, CA_CERT_KEY]);
  if (missing.length > 0) return { ok: false, reason: `Secret lacks ${missing.join(', ')}` };
  const crl = crlFromSecret(secret);
  return { ok: true, value: { cert: decoded(secret, TLS_CERT_KEY)!, key: decoded(secret, TLS_KEY_KEY)!, ca: decoded(secret, CA_CERT_KEY)!, ...(crl ? { crl } : {}) } };
}

/** The Secret's ca.crl, if it has one (kept across the self-managed mode's renewals). */
export function crlFromSecret(secret: V1Secret | undefined): string | undefined {
  return secret ? decoded(secret, CA_CRL_KEY) : undefined;
}

export function tlsSecretData(material: TlsMaterial): Record<string, string> {
  return encoded({ [TLS_CERT_KEY]: material.cert, [TLS_KEY_KEY]: material.key, [CA_CERT_KEY]: material.ca, ...(material.crl ? { [CA_CRL_KEY]: material.crl } : {}) });
}

export function caFromSecret(secret: V1Secret): ParseResult<CertificateAuthority> {
  const missing = missingKeys(secret, [CA_CERT_KEY, CA_KEY_KEY]);
  if (missing.length > 0) return { ok: false, reason: `Secret lacks ${missing.join(', ')}` };
  return { ok: true, value: { certPem: decoded(secret, CA_CERT_KEY)!, keyPem: decoded(secret, CA_KEY_KEY)! } };
}

export function caSecretData(ca: CertificateAuthority): Record<string, string> {
  return encoded({ [CA_CERT_KEY]: ca.certPem, [CA_KEY_KEY]: ca.keyPem });
}

export function sameMaterial(a: TlsMaterial | undefined, b: TlsMaterial | undefined): boolean {
  return a?.cert === b?.cert && a?.key === b?.key && a?.ca === b?.ca && a?.crl === b?.crl;
}
