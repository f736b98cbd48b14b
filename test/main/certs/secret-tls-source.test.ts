// SecretTlsSource against the test API server: loading, reloading on change, refusing
// bad material, and --secret-manage-mode self creating and renewing the Secret.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Secret } from '@kubernetes/client-node';
import type { Config } from '../../../src/main/flags.js';
import { validateCertificateSet } from '../../../src/main/certs/cert-files.js';
import { createCa, issueCertificate } from '../../../src/main/certs/pki.js';
import type { CertificateAuthority } from '../../../src/main/certs/pki.js';
import { SecretTlsSource } from '../../../src/main/certs/secret-tls-source.js';
import { caFromSecret, caSecretData, tlsMaterialFromSecret, tlsSecretData } from '../../../src/main/certs/tls-secret.js';
import { apiStatusCode } from '../../../src/main/k8s/api-error.js';
import { silentLogger } from '../../../src/shared/log.js';
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

describe('SecretTlsSource', () => {
  let env: ApiServerEnv;
  let ca: CertificateAuthority;
  const sources: SecretTlsSource[] = [];
  const source = (secret: string, mode: 'none' | 'self' = 'none', options = {}): SecretTlsSource => {
    const s = new SecretTlsSource(env.kubeConfig, config(secret, mode), silentLogger, { ...FAST, ...options });
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
