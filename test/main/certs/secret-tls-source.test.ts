// SecretTlsSource against the test API server: loading, reloading on change, refusing
// bad material, --secret-manage-mode self creating and renewing the Secret, and the
// Secret's ca.crl (read, kept across renewals, an unusable one reported and not adopted).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import type { Config } from '../../../src/main/flags.js';
import { validateCertificateSet } from '../../../src/main/certs/cert-files.js';
import { certificateSerial, createCa, issueCertificate, issueCrl } from '../../../src/main/certs/pki.js';
import type { CertificateAuthority } from '../../../src/main/certs/pki.js';
import { SecretTlsSource } from '../../../src/main/certs/secret-tls-source.js';
import { caFromSecret, caSecretData, tlsMaterialFromSecret, tlsSecretData } from '../../../src/main/certs/tls-secret.js';
import { apiStatusCode } from '../../../src/main/k8s/api-error.js';
import { createLogger, silentLogger } from '../../../src/shared/log.js';
import type { Logger } from '../../../src/shared/log.js';
import type { TlsMaterial } from '../../../src/shared/shard-protocol.js';
import { startEnv, waitFor } from '../k8s/api-server-env.js';
import type { ApiServerEnv } from '../k8s/api-server-env.js';

const NAMESPACE = 'kube-system';
const DNS_NAME = 'broker.c1.kubelink.lab';
const FAST = { informer: { backoffInitialMs: 100, backoffMaxMs: 500 }, initialSyncTimeoutMs: 10_000 };

function config(secret: string, mode: 'none' | 'self' = 'none'): Config {
  return { secret, namespace: NAMESPACE, secretManageMode: mode, dnsName: DNS_NAME } as Config;
}

async function issue(ca: CertificateAuthority, name = DNS_NAME, validDays = 365): Promise<TlsMaterial> {
  const cert = await issueCertificate(ca, { commonName: name, dnsNames: [name], validDays });
  return { cert: cert.certPem, key: cert.keyPem, ca: ca.certPem };
}

async function writeSecret(env: ApiServerEnv, name: string, data: Record<string, string>, type = 'kubernetes.io/tls'): Promise<void> {
  let existing: V1Secret | undefined;
  try {
    existing = await env.core.readNamespacedSecret({ name, namespace: NAMESPACE });
  } catch (err) {
    if (apiStatusCode(err) !== 404) throw err;
  }
  const body: V1Secret = { apiVersion: 'v1', kind: 'Secret', type, metadata: { name, namespace: NAMESPACE, resourceVersion: existing?.metadata?.resourceVersion }, data };
  if (existing) await env.core.replaceNamespacedSecret({ name, namespace: NAMESPACE, body });
  else await env.core.createNamespacedSecret({ namespace: NAMESPACE, body });
}

const readSecret = (env: ApiServerEnv, name: string): Promise<V1Secret> => env.core.readNamespacedSecret({ name, namespace: NAMESPACE });

const DAY_MS = 24 * 60 * 60 * 1000;
const secretValue = (secret: V1Secret, key: string): string | undefined => {
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
};

interface LogLine { level: string; msg: string; reason?: string }

/** A logger that keeps its lines, and a wait for the first line matching a message. */
function recordingLogger(): { log: Logger; lines: LogLine[]; line: (level: string, msg: RegExp) => Promise<LogLine> } {
  const lines: LogLine[] = [];
  const log = createLogger({ level: 'debug', write: (l) => lines.push(JSON.parse(l) as LogLine) });
  const line = (level: string, msg: RegExp): Promise<LogLine> => waitFor(`a ${level} log line ${msg}`, () => lines.find((l) => l.level === level && msg.test(l.msg)));
  return { log, lines, line };
}

describe('SecretTlsSource', () => {
  let env: ApiServerEnv;
  let ca: CertificateAuthority;
  const sources: SecretTlsSource[] = [];
  const source = (secret: string, mode: 'none' | 'self' = 'none', options = {}, log: Logger = silentLogger): SecretTlsSource => {
    const s = new SecretTlsSource(env.kubeConfig, config(secret, mode), log, { ...FAST, ...options });
    sources.push(s);
    return s;
  };

  before(async () => {
    env = await startEnv();
    ca = await createCa({ commonName: 'test CA', validDays: 3650 });
  });
  after(async () => {
    for (const s of sources) await s.stop();
    await env.close();
  });

  test('loads the Secret, delivers each valid change and keeps the material in force when a change is invalid', async () => {
    const first = await issue(ca);
    await writeSecret(env, 'tls-a', tlsSecretData(first));
    const changes: TlsMaterial[] = [];
    const s = source('tls-a');
    assert.deepEqual(await s.start((m) => changes.push(m)), first);

    const second = await issue(ca);
    await writeSecret(env, 'tls-a', tlsSecretData(second));
    await waitFor('the rotated certificate', () => changes.length === 1);
    assert.deepEqual(changes[0], second);
    assert.deepEqual(s.current(), second);

    const foreign = await issue(ca);
    await writeSecret(env, 'tls-a', tlsSecretData({ ...second, key: foreign.key }));
    const third = await issue(ca);
    await writeSecret(env, 'tls-a', tlsSecretData(third));
    await waitFor('the next valid certificate', () => changes.length === 2);
    assert.deepEqual(changes, [second, third], 'the update with a key of another certificate was never delivered');
  });

  test('a missing Secret fails start naming it', async () => {
    await assert.rejects(source('tls-missing').start(() => {}), /certificates from Secret kube-system\/tls-missing: it does not exist/);
  });

  test('an invalid Secret fails start with the reason', async () => {
    const m = await issue(ca);
    await writeSecret(env, 'tls-bad', tlsSecretData({ ...m, ca: (await createCa({ commonName: 'other', validDays: 10 })).certPem }));
    await assert.rejects(source('tls-bad').start(() => {}), /tls-bad: it is not usable: certificate .* is not signed by the CA bundle/);
  });

  test('self mode creates the CA Secret and a Secret with a certificate for --dns-name, and reuses them on restart', async () => {
    const s = source('tls-self', 'self');
    const material = await s.start(() => {});
    const info = validateCertificateSet(material);
    assert.ok(info.ok);
    assert.deepEqual(info.value.identities, [DNS_NAME]);
    assert.ok(info.value.notAfter.getTime() - Date.now() > 360 * 24 * 3600_000, 'valid for a year');

    const secret = await readSecret(env, 'tls-self');
    assert.equal(secret.type, 'kubernetes.io/tls');
    assert.deepEqual(tlsMaterialFromSecret(secret), { ok: true, value: material });
    const caSecret = caFromSecret(await readSecret(env, 'tls-self-ca'));
    assert.ok(caSecret.ok);
    assert.equal(caSecret.value.certPem, material.ca);

    await s.stop();
    const again = source('tls-self', 'self');
    assert.deepEqual(await again.start(() => {}), material, 'a current certificate is kept');
    assert.equal((await readSecret(env, 'tls-self')).metadata?.resourceVersion, secret.metadata?.resourceVersion, 'and not rewritten');
  });

  test('self mode issues from a CA that was provisioned in <secret>-ca (a CA shared between clusters)', async () => {
    const shared = await createCa({ commonName: 'shared mesh CA', validDays: 3650 });
    await writeSecret(env, 'tls-shared-ca', caSecretData(shared), 'Opaque');
    const material = await source('tls-shared', 'self').start(() => {});
    assert.equal(material.ca, shared.certPem);
    assert.ok(validateCertificateSet({ ...material, ca: shared.certPem }).ok);
  });

  test('self mode renews a certificate that expires within the threshold, from the same CA', async () => {
    const own = await createCa({ commonName: 'renew CA', validDays: 3650 });
    await writeSecret(env, 'tls-renew-ca', caSecretData(own), 'Opaque');
    const expiring = await issue(own, DNS_NAME, 10);
    await writeSecret(env, 'tls-renew', tlsSecretData(expiring));
    const material = await source('tls-renew', 'self', { renewBeforeDays: 30 }).start(() => {});
    assert.notEqual(material.cert, expiring.cert);
    assert.equal(material.ca, own.certPem);
    const info = validateCertificateSet(material);
    assert.ok(info.ok && info.value.notAfter.getTime() - Date.now() > 300 * 24 * 3600_000);
  });

  test('self mode re-creates a deleted Secret and delivers the new certificate', async () => {
    const changes: TlsMaterial[] = [];
    const s = source('tls-recreate', 'self');
    const first = await s.start((m) => changes.push(m));
    await env.core.deleteNamespacedSecret({ name: 'tls-recreate', namespace: NAMESPACE });
    await waitFor('the Secret re-created', async () => (await readSecret(env, 'tls-recreate')).data !== undefined);
    await waitFor('the new certificate delivered', () => changes.length === 1);
    assert.notEqual(changes[0]!.cert, first.cert);
    assert.equal(changes[0]!.ca, first.ca, 'issued by the same CA, so peers keep trusting it');
  });

  test('an unusable CA in <secret>-ca is reported, never overwritten', async () => {
    await writeSecret(env, 'tls-badca-ca', { 'ca.crt': Buffer.from('garbage').toString('base64'), 'ca.key': Buffer.from('x').toString('base64') }, 'Opaque');
    await assert.rejects(source('tls-badca', 'self').start(() => {}), /CA Secret kube-system\/tls-badca-ca is not usable: ca.crt or ca.key does not parse/);
    assert.equal(Buffer.from((await readSecret(env, 'tls-badca-ca')).data!['ca.crt']!, 'base64').toString(), 'garbage');
  });

  test('ca.crl is read with the certificates, a new CRL alone is delivered, and an unusable one is reported and not adopted', async () => {
    const material = await issue(ca);
    const crl = issueCrl(ca, { revokedSerials: [], validDays: 7 });
    await writeSecret(env, 'tls-crl', tlsSecretData({ ...material, crl }));
    const changes: TlsMaterial[] = [];
    const logs = recordingLogger();
    const s = source('tls-crl', 'none', {}, logs.log);
    assert.deepEqual(await s.start((m) => changes.push(m)), { ...material, crl });

    const revoking = issueCrl(ca, { revokedSerials: [certificateSerial((await issue(ca)).cert)], validDays: 7 });
    await writeSecret(env, 'tls-crl', tlsSecretData({ ...material, crl: revoking }));
    await waitFor('the new CRL', () => changes.length === 1);
    assert.deepEqual(changes[0], { ...material, crl: revoking }, 'a CRL alone is a change, delivered like a rotation');

    const unusable = [
      { crl: issueCrl(await createCa({ commonName: 'crl foreign CA', validDays: 10 }), { revokedSerials: [], validDays: 7 }), reason: /^ca\.crl: CRL 0 is not signed by a CA of the bundle$/ },
      { crl: issueCrl(ca, { revokedSerials: [], validDays: 1, now: () => new Date(Date.now() - 3 * DAY_MS) }), reason: /^ca\.crl: CRL 0 expired at / },
      { crl: 'garbage', reason: /^ca\.crl: holds no PEM "X509 CRL" block$/ },
    ];
    for (const { crl: bad, reason } of unusable) {
      logs.lines.length = 0;
      await writeSecret(env, 'tls-crl', tlsSecretData({ ...material, crl: bad }));
      const warning = await logs.line('warn', /unusable certificates; keeping the ones in force/);
      assert.match(warning.reason ?? '', reason);
      assert.deepEqual(s.current(), { ...material, crl: revoking }, 'the last good material stays in force');
    }
    assert.equal(changes.length, 1, 'no unusable CRL was delivered');

    const fixed = issueCrl(ca, { revokedSerials: [], validDays: 7 });
    await writeSecret(env, 'tls-crl', tlsSecretData({ ...material, crl: fixed }));
    await waitFor('the fixed CRL', () => changes.length === 2);
    assert.deepEqual(changes[1], { ...material, crl: fixed });
  });

  test('an unusable ca.crl fails start naming ca.crl, in both modes, and self mode writes nothing', async () => {
    const own = await createCa({ commonName: 'crl start CA', validDays: 3650 });
    const foreignCrl = issueCrl(ca, { revokedSerials: [], validDays: 7 });
    await writeSecret(env, 'tls-crl-start', tlsSecretData({ ...(await issue(own)), crl: foreignCrl }));
    await assert.rejects(source('tls-crl-start').start(() => {}), /tls-crl-start: it is not usable: ca\.crl: CRL 0 is not signed by a CA of the bundle/);

    await writeSecret(env, 'tls-crl-start-ca', caSecretData(own), 'Opaque');
    const before = await readSecret(env, 'tls-crl-start');
    await assert.rejects(source('tls-crl-start', 'self').start(() => {}), /certificates from Secret kube-system\/tls-crl-start: ca\.crl: CRL 0 is not signed by a CA of the bundle/);
    await writeSecret(env, 'tls-crl-start', tlsSecretData({ ...(await issue(own, DNS_NAME, 10)), crl: foreignCrl }));
    const expiring = await readSecret(env, 'tls-crl-start');
    await assert.rejects(source('tls-crl-start', 'self', { renewBeforeDays: 30 }).start(() => {}), /ca\.crl: CRL 0 is not signed/, 'an expiring certificate is not replaced either: nothing would enforce the CRL');
    assert.notEqual(expiring.metadata?.resourceVersion, before.metadata?.resourceVersion);
    assert.equal((await readSecret(env, 'tls-crl-start')).metadata?.resourceVersion, expiring.metadata?.resourceVersion, 'the Secret was not written');
  });

  test('self mode keeps ca.crl in the Secret and in force across a renewal', async () => {
    const own = await createCa({ commonName: 'crl renew CA', validDays: 3650 });
    await writeSecret(env, 'tls-crl-renew-ca', caSecretData(own), 'Opaque');
    const crl = issueCrl(own, { revokedSerials: [], validDays: 7 });
    const expiring = await issue(own, DNS_NAME, 10);
    await writeSecret(env, 'tls-crl-renew', tlsSecretData({ ...expiring, crl }));
    const material = await source('tls-crl-renew', 'self', { renewBeforeDays: 30 }).start(() => {});
    assert.notEqual(material.cert, expiring.cert, 'renewed');
    assert.equal(material.crl, crl, 'the CRL is enforced with the new certificate');
    const secret = await readSecret(env, 'tls-crl-renew');
    assert.equal(secretValue(secret, 'tls.crt'), material.cert);
    assert.equal(secretValue(secret, 'ca.crl'), crl, 'and stays in the Secret');
  });

  test('self mode: an unusable ca.crl is reported once and the CRL in force kept, without a re-issue; the certificate is still renewed when due', async () => {
    const own = await createCa({ commonName: 'crl self CA', validDays: 3650 });
    await writeSecret(env, 'tls-crl-self-ca', caSecretData(own), 'Opaque');
    const good = issueCrl(own, { revokedSerials: [], validDays: 7 });
    const initial = await issue(own);
    await writeSecret(env, 'tls-crl-self', tlsSecretData({ ...initial, crl: good }));
    const changes: TlsMaterial[] = [];
    const logs = recordingLogger();
    const s = source('tls-crl-self', 'self', { renewBeforeDays: 30 }, logs.log);
    assert.deepEqual(await s.start((m) => changes.push(m)), { ...initial, crl: good });

    const foreignCrl = issueCrl(ca, { revokedSerials: [], validDays: 7 });
    await writeSecret(env, 'tls-crl-self', tlsSecretData({ ...initial, crl: foreignCrl }));
    const written = await readSecret(env, 'tls-crl-self');
    const warning = await logs.line('warn', /ca\.crl is unusable; keeping the CRL in force/);
    assert.equal(warning.reason, 'ca.crl: CRL 0 is not signed by a CA of the bundle');
    assert.deepEqual(s.current(), { ...initial, crl: good });
    assert.equal(logs.lines.filter((l) => /issuing/.test(l.msg)).length, 0, 'a CRL problem is no reason to issue a certificate');

    // The certificate is due: renewed from the CA, with the CRL in force; the operator's ca.crl stays in the Secret.
    await writeSecret(env, 'tls-crl-self', tlsSecretData({ ...(await issue(own, DNS_NAME, 10)), crl: foreignCrl }));
    await waitFor('the renewed certificate', () => changes.length === 1);
    assert.notEqual(changes[0]!.cert, initial.cert);
    assert.equal(changes[0]!.crl, good, 'revocations are not dropped while ca.crl is broken');
    const renewed = await readSecret(env, 'tls-crl-self');
    assert.notEqual(renewed.metadata?.resourceVersion, written.metadata?.resourceVersion);
    assert.equal(secretValue(renewed, 'tls.crt'), changes[0]!.cert);
    assert.equal(secretValue(renewed, 'ca.crl'), foreignCrl, 'the operator\'s ca.crl is not overwritten');
    assert.equal(logs.lines.filter((l) => /ca\.crl is unusable/.test(l.msg)).length, 1, 'the same bad ca.crl is reported once');

    // The operator fixes ca.crl: adopted with the certificate in force.
    const fixed = issueCrl(own, { revokedSerials: [certificateSerial(initial.cert)], validDays: 7 });
    await env.core.replaceNamespacedSecret({ name: 'tls-crl-self', namespace: NAMESPACE, body: { ...renewed, data: { ...renewed.data, 'ca.crl': Buffer.from(fixed).toString('base64') } } });
    await waitFor('the fixed CRL', () => changes.length === 2);
    assert.deepEqual(changes[1], { ...changes[0]!, crl: fixed });
  });

  test('without --secret and without self mode there is nothing to read', () => {
    assert.throws(
      () => new SecretTlsSource(env.kubeConfig, { namespace: NAMESPACE, secretManageMode: 'none' } as Config, silentLogger),
      /no certificates configured/,
    );
    assert.throws(
      () => new SecretTlsSource(env.kubeConfig, { namespace: NAMESPACE, secretManageMode: 'self' } as Config, silentLogger),
      /--secret-manage-mode self needs --dns-name/,
    );
  });
});
