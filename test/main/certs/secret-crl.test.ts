// The Secret's ca.crl judged apart from its certificate set (src/main/certs/secret-crl.ts).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateSerial, createCa, issueCertificate, issueCrl } from '../../../src/main/certs/pki.js';
import type { CertificateAuthority } from '../../../src/main/certs/pki.js';
import { checkSecretMaterial, crlProblem, withCrl, withoutCrl } from '../../../src/main/certs/secret-crl.js';
import type { TlsMaterial } from '../../../src/shared/shard-protocol.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date('2025-06-01T00:00:00Z');
const at = (ms: number): (() => Date) => () => new Date(NOW.getTime() + ms);

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let certificates: TlsMaterial;

before(async () => {
  ca = await createCa({ commonName: 'crl test CA', validDays: 3650, now: at(-DAY) });
  otherCa = await createCa({ commonName: 'crl other CA', validDays: 3650, now: at(-DAY) });
  const cert = await issueCertificate(ca, { commonName: 'broker.c1.kubelink.lab', dnsNames: ['broker.c1.kubelink.lab'], validDays: 365, now: at(-DAY) });
  certificates = { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem };
});

test('a CRL of the CA that has not expired is usable; no CRL is no problem', () => {
  const crl = issueCrl(ca, { revokedSerials: [certificateSerial(certificates.cert)], validDays: 2, now: at(-DAY) });
  assert.equal(crlProblem({ ...certificates, crl }, NOW), undefined);
  assert.equal(crlProblem(certificates, NOW), undefined);
  assert.ok(checkSecretMaterial({ ...certificates, crl }, NOW).ok);
});

test('an unusable ca.crl is named with its reason: garbage, another CA, expired', () => {
  assert.equal(crlProblem({ ...certificates, crl: 'not a crl' }, NOW), 'ca.crl: holds no PEM "X509 CRL" block');
  const foreign = issueCrl(otherCa, { revokedSerials: [], validDays: 2, now: at(-DAY) });
  assert.equal(crlProblem({ ...certificates, crl: foreign }, NOW), 'ca.crl: CRL 0 is not signed by a CA of the bundle');
  const expired = issueCrl(ca, { revokedSerials: [], validDays: 1, now: at(-3 * DAY) });
  assert.match(crlProblem({ ...certificates, crl: expired }, NOW) ?? '', /^ca\.crl: CRL 0 expired at .* \(nextUpdate\): peers would all be refused$/);
  assert.equal(crlProblem({ ...certificates, crl: expired }, new Date(NOW.getTime() - 2.5 * DAY)), undefined, 'judged at the time given, not the wall clock');
  const checked = checkSecretMaterial({ ...certificates, crl: foreign }, NOW);
  assert.ok(!checked.ok);
  assert.equal(checked.reason, 'ca.crl: CRL 0 is not signed by a CA of the bundle');
});

test('the certificate set is judged first, and without its CRL', () => {
  const checked = checkSecretMaterial({ ...certificates, key: 'no key', crl: 'not a crl' }, NOW);
  assert.ok(!checked.ok);
  assert.match(checked.reason, /^private key does not parse/);
});

test('withCrl and withoutCrl replace or drop the CRL and nothing else', () => {
  const crl = issueCrl(ca, { revokedSerials: [], validDays: 2, now: at(-DAY) });
  assert.deepEqual(withoutCrl({ ...certificates, crl }), certificates);
  assert.deepEqual(withCrl(certificates, crl), { ...certificates, crl });
  assert.deepEqual(withCrl({ ...certificates, crl: 'old' }, undefined), certificates);
  assert.ok(!('crl' in withCrl({ ...certificates, crl }, undefined)), 'no crl key at all, so sameMaterial and deepEqual agree');
});
