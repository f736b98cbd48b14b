// A TLS Secret's ca.crl, judged apart from its certificate set (tls.crt, tls.key, ca.crt).
// The two have different owners: in --secret-manage-mode self the broker renews the
// certificate, while the CRL only ever comes from the operator (kubelink issues none). So a
// certificate that needs renewing is re-issued whatever the CRL says, and an unusable CRL
// (does not parse, not signed by a CA of the bundle, expired) never causes a re-issue: that
// would fix nothing. Its message names ca.crl so the operator knows what to repair.
import type { ParseResult } from '../../shared/parse-result.js';
import type { TlsMaterial } from '../../shared/shard-protocol.js';
import { parseRevocations } from '../../shared/crl.js';
import { validateCertificateSet } from './cert-files.js';
import type { CertificateInfo } from './cert-files.js';
import { CA_CRL_KEY } from './tls-secret.js';

/** The certificate set alone: `material` without its CRL. */
export function withoutCrl(material: TlsMaterial): TlsMaterial {
  return { cert: material.cert, key: material.key, ca: material.ca };
}

/** `certificates` with `crl` when there is one. */
export function withCrl(certificates: TlsMaterial, crl: string | undefined): TlsMaterial {
  return crl === undefined ? withoutCrl(certificates) : { ...withoutCrl(certificates), crl };
}

/** Why `material.crl` cannot be used with `material.ca` at `now`; undefined when it can or there is none. */
export function crlProblem(material: TlsMaterial, now: Date): string | undefined {
  if (material.crl === undefined) return undefined;
  const parsed = parseRevocations(material.crl, material.ca, now);
  return parsed.ok ? undefined : `${CA_CRL_KEY}: ${parsed.reason}`;
}

/** The whole content of a TLS Secret is usable: its certificate set and, when present, its ca.crl. */
export function checkSecretMaterial(material: TlsMaterial, now: Date): ParseResult<CertificateInfo> {
  const checked = validateCertificateSet(withoutCrl(material));
  if (!checked.ok) return checked;
  const problem = crlProblem(material, now);
  return problem === undefined ? checked : { ok: false, reason: problem };
}
