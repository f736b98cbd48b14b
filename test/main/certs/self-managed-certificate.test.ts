import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCa, issueCertificate, issueCrl } from '../../../src/main/certs/pki.js';
import type { CertificateAuthority } from '../../../src/main/certs/pki.js';
import { checkCa, renewalReason } from '../../../src/main/certs/self-managed-certificate.js';
import { caFromSecret, caSecretData, tlsMaterialFromSecret, tlsSecretData } from '../../../src/main/certs/tls-secret.js';
import type { TlsMaterial } from '../../../src/shared/shard-protocol.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.parse('2025-06-01T00:00:00Z');
const policy = { dnsName: 'broker.c1.kubelink.lab', renewBeforeMs: 30 * DAY };

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let good: TlsMaterial;

async function material(issuer: CertificateAuthority, name: string, validDays: number): Promise<TlsMaterial> {
  const cert = await issueCertificate(issuer, { commonName: name, dnsNames: [name], validDays, now: () => new Date(NOW) });
  return { cert: cert.certPem, key: cert.keyPem, ca: issuer.certPem };
}

before(async () => {
  ca = await createCa({ commonName: 'test CA', validDays: 3650, now: () => new Date(NOW) });
  otherCa = await createCa({ commonName: 'other CA', validDays: 3650, now: () => new Date(NOW) });
  good = await material(ca, 'broker.c1.kubelink.lab', 365);
});

test('a valid certificate for the DNS name from the current CA needs no renewal', () => {
  assert.equal(renewalReason({ ok: true, value: good }, policy, NOW, ca.certPem), undefined);
});

test('a missing Secret or one lacking keys is renewed, saying why', () => {
  assert.equal(renewalReason(undefined, policy, NOW), 'the Secret does not exist');
  assert.equal(renewalReason(tlsMaterialFromSecret({ data: tlsSecretData(good) }), policy, NOW), undefined);
  const partial = tlsMaterialFromSecret({ data: { 'tls.crt': tlsSecretData(good)['tls.crt']! } });
  assert.equal(renewalReason(partial, policy, NOW), 'Secret lacks tls.key, ca.crt');
});

test('a certificate expiring within the threshold is renewed; one just outside is not', async () => {
  const short = await material(ca, 'broker.c1.kubelink.lab', 29);
  assert.match(renewalReason({ ok: true, value: short }, policy, NOW) ?? '', /expires at .* \(in 29 days; renewal 30 days before\)/);
  const enough = await material(ca, 'broker.c1.kubelink.lab', 31);
  assert.equal(renewalReason({ ok: true, value: enough }, policy, NOW), undefined);
  assert.match(renewalReason({ ok: true, value: good }, policy, NOW + 340 * DAY) ?? '', /expires/, 'a year-long certificate is renewed in its last 30 days');
});

test('a certificate for another name, from another CA, or with a foreign key is renewed', async () => {
  const otherName = await material(ca, 'broker.c9.kubelink.lab', 365);
  assert.match(renewalReason({ ok: true, value: otherName }, policy, NOW) ?? '', /names broker\.c9\.kubelink\.lab, not broker\.c1\.kubelink\.lab/);
  const fromOther = await material(otherCa, 'broker.c1.kubelink.lab', 365);
  assert.equal(renewalReason({ ok: true, value: fromOther }, policy, NOW, ca.certPem), 'its CA bundle is not the current CA');
  const wrongKey = { ...good, key: otherName.key };
  assert.match(renewalReason({ ok: true, value: wrongKey }, policy, NOW) ?? '', /not usable: private key does not belong/);
});

test('a CA Secret round-trips, and a CA with a key that is not its own or a leaf as CA is refused', () => {
  const parsed = caFromSecret({ data: caSecretData(ca) });
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, ca);
  assert.ok(checkCa(ca, NOW).ok);
  assert.deepEqual(checkCa({ certPem: ca.certPem, keyPem: otherCa.keyPem }, NOW), { ok: false, reason: 'ca.key does not belong to ca.crt' });
  assert.match((checkCa({ certPem: good.cert, keyPem: good.key }, NOW) as { reason: string }).reason, /not a CA certificate/);
  assert.match((checkCa(ca, NOW + 3651 * DAY) as { reason: string }).reason, /the CA expired/);
  assert.deepEqual(caFromSecret({ data: {} }), { ok: false, reason: 'Secret lacks ca.crt, ca.key' });
});

test('renewal judges the certificate alone: an unusable CRL next to it is no reason to re-issue (secret-crl.ts)', () => {
  const foreignCrl = issueCrl(otherCa, { revokedSerials: [], validDays: 1, now: () => new Date(NOW) });
  assert.equal(renewalReason({ ok: true, value: { ...good, crl: foreignCrl } }, policy, NOW, ca.certPem), undefined);
  assert.equal(renewalReason({ ok: true, value: { ...good, crl: 'not a CRL' } }, policy, NOW, ca.certPem), undefined);
  assert.match(renewalReason({ ok: true, value: { ...good, key: '', crl: foreignCrl } }, policy, NOW) ?? '', /not usable: private key does not parse/);
});
