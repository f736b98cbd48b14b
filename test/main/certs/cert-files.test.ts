import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertFilesTlsSource, loadCertificateFiles, validateCertificateSet } from '../../../src/main/certs/cert-files.js';
import type { CertFilesOptions, CertificateSet } from '../../../src/main/certs/cert-files.js';
import { certificateIdentities, findLinkForPeer, splitSubjectAltName } from '../../../src/shared/cert-identity.js';
import { createLogger } from '../../../src/shared/log.js';
import { certificateSerial, createCa, issueCertificate, issueCrl } from '../../../src/main/certs/pki.js';
import type { CertificateAuthority, IssuedCertificate } from '../../../src/main/certs/pki.js';
import type { ValidLink } from '../../../src/shared/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Upper bound for waiting on a file-system change; a guard against hangs, not a speed test. */
const WAIT_LIMIT_MS = 15_000;

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let first: IssuedCertificate;
let second: IssuedCertificate;
let foreign: IssuedCertificate;

before(async () => {
  ca = await createCa({ commonName: 'kubelink test CA', validDays: 2 });
  otherCa = await createCa({ commonName: 'other CA', validDays: 2 });
  first = await issueCertificate(ca, { commonName: 'broker.c1.kubelink.lab', dnsNames: ['broker.c1.kubelink.lab', 'alt.c1.kubelink.lab'], validDays: 2 });
  second = await issueCertificate(ca, { commonName: 'broker.c1.kubelink.lab', dnsNames: ['broker.c1.kubelink.lab'], validDays: 2 });
  foreign = await issueCertificate(otherCa, { commonName: 'broker.c1.kubelink.lab', dnsNames: [], validDays: 2 });
});

function set(cert: IssuedCertificate, key: IssuedCertificate = cert, bundle: CertificateAuthority = ca): CertificateSet {
  return { cert: cert.certPem, key: key.keyPem, ca: bundle.certPem };
}

test('a certificate set is valid when key matches and the CA signed it', () => {
  const r = validateCertificateSet(set(first));
  assert.ok(r.ok);
  assert.deepEqual(r.value.identities, ['broker.c1.kubelink.lab', 'alt.c1.kubelink.lab']);
  assert.ok(r.value.notAfter.getTime() > Date.now());
});

test('a set with a foreign key, another CA or unparsable PEM is rejected with the reason', () => {
  const mismatch = validateCertificateSet(set(first, second));
  assert.ok(!mismatch.ok);
  assert.match(mismatch.reason, /private key does not belong to certificate CN=broker\.c1\.kubelink\.lab/);
  const wrongCa = validateCertificateSet(set(foreign));
  assert.ok(!wrongCa.ok);
  assert.match(wrongCa.reason, /is not signed by the CA bundle/);
  const garbage = validateCertificateSet({ ...set(first), cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' });
  assert.ok(!garbage.ok);
  assert.match(garbage.reason, /certificate: certificate 0 does not parse/);
  const noCert = validateCertificateSet({ ...set(first), ca: 'hello' });
  assert.ok(!noCert.ok);
  assert.match(noCert.reason, /CA bundle holds no PEM certificate/);
  const badKey = validateCertificateSet({ ...set(first), key: 'nope' });
  assert.ok(!badKey.ok);
  assert.match(badKey.reason, /private key does not parse/);
});

test('a CA bundle with several certificates accepts a certificate signed by any of them', () => {
  const r = validateCertificateSet({ ...set(first), ca: `${otherCa.certPem}\n${ca.certPem}` });
  assert.ok(r.ok);
});

test('certificateIdentities reads CN and SANs from a PEM and from a TLS peer certificate', async () => {
  assert.deepEqual(certificateIdentities(first.certPem), ['broker.c1.kubelink.lab', 'alt.c1.kubelink.lab']);
  const server = tls.createServer({ cert: first.certPem, key: first.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true });
  const seen = new Promise<string[]>((resolve) => server.on('secureConnection', (s) => {
    resolve(certificateIdentities(s.getPeerCertificate()));
    s.end();
  }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const client = tls.connect({ host: '127.0.0.1', port, cert: second.certPem, key: second.keyPem, ca: ca.certPem, servername: 'broker.c1.kubelink.lab' });
    const fromClient = await new Promise<string[]>((resolve, reject) => {
      client.on('secureConnect', () => resolve(certificateIdentities(client.getPeerCertificate())));
      client.on('error', reject);
    });
    assert.deepEqual(fromClient, ['broker.c1.kubelink.lab', 'alt.c1.kubelink.lab']);
    assert.deepEqual(await seen, ['broker.c1.kubelink.lab']);
    client.destroy();
  } finally {
    server.close();
  }
});

test('certificateIdentities normalizes case, drops duplicates and reads quoted and IP SANs', () => {
  const peer = { subject: { CN: 'Broker.Example.' }, subjectaltname: 'DNS:broker.example, DNS:"odd,name", IP Address:10.0.0.1, email:x@y' };
  assert.deepEqual(certificateIdentities(peer as unknown as tls.PeerCertificate), ['broker.example', 'odd,name', '10.0.0.1']);
  assert.deepEqual(splitSubjectAltName('DNS:a, DNS:"b\\"c"'), [{ type: 'DNS', value: 'a' }, { type: 'DNS', value: 'b"c' }]);
  assert.deepEqual(certificateIdentities({ subject: {}, subjectaltname: undefined } as unknown as tls.PeerCertificate), []);
});

test('findLinkForPeer accepts exactly one link naming the certificate and refuses none or several', () => {
  const link = (name: string, endpointHost: string) => ({ name, endpointHost }) as ValidLink;
  const links = [link('c1', 'broker.c1.kubelink.lab'), link('c2', 'broker.c2.kubelink.lab')];
  const one = findLinkForPeer(['broker.c1.kubelink.lab', 'alt'], links);
  assert.ok(one.ok);
  assert.equal(one.link.name, 'c1');
  const none = findLinkForPeer(['stranger'], links);
  assert.ok(!none.ok);
  assert.equal(none.reason, 'certificate names [stranger] match the endpoint host of no link');
  const several = findLinkForPeer(['broker.c1.kubelink.lab', 'broker.c2.kubelink.lab'], links);
  assert.ok(!several.ok);
  assert.match(several.reason, /match several links: c1, c2/);
});

// ---- watching ----

let root: string;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'klcerts-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Watched {
  source: CertFilesTlsSource;
  changes: CertificateSet[];
  logs: Array<Record<string, unknown>>;
  waitForChange(count: number): Promise<CertificateSet>;
}

async function watched(options: Omit<CertFilesOptions, 'logger'>): Promise<Watched> {
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
  const source = new CertFilesTlsSource({ pollIntervalMs: 100, debounceMs: 30, ...options, logger });
  const changes: CertificateSet[] = [];
  await source.start((s) => changes.push(s));
  return {
    source,
    changes,
    logs,
    async waitForChange(count) {
      const deadline = Date.now() + WAIT_LIMIT_MS;
      while (changes.length < count) {
        if (Date.now() > deadline) assert.fail(`expected ${count} certificate changes, saw ${changes.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return changes[count - 1]!;
    },
  };
}

/** Waits (for real I/O, such as a stat) until `done`; fails after WAIT_LIMIT_MS. */
async function waitUntil(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`gave up waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

async function writeSet(dir: string, s: CertificateSet): Promise<void> {
  await writeFile(path.join(dir, 'tls.crt'), s.cert);
  await writeFile(path.join(dir, 'tls.key'), s.key);
  await writeFile(path.join(dir, 'ca.crt'), s.ca);
}

function filesIn(dir: string) {
  return { certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), caFile: path.join(dir, 'ca.crt') };
}

test('start loads the files, and rejects an invalid initial set naming the files', async () => {
  const dir = await mkdtemp(path.join(root, 'init-'));
  await writeSet(dir, set(first, second));
  await assert.rejects(loadCertificateFiles(filesIn(dir)), /tls\.crt.*private key does not belong/);
  await assert.rejects(new CertFilesTlsSource({ ...filesIn(dir), caFile: undefined }).start(() => {}), /a CA file is required/);
  await writeSet(dir, set(first));
  const source = new CertFilesTlsSource(filesIn(dir));
  const initial = await source.start(() => {});
  assert.equal(initial.cert, first.certPem);
  assert.equal(source.current().key, first.keyPem);
  await source.stop();
});

test('rewritten files are delivered; an invalid new set is logged once and the old one kept', async () => {
  const dir = await mkdtemp(path.join(root, 'rewrite-'));
  await writeSet(dir, set(first));
  const w = await watched(filesIn(dir));
  try {
    // half a rotation: new certificate, old key -> rejected, old set stays
    await writeFile(path.join(dir, 'tls.crt'), second.certPem);
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!w.logs.some((l) => l.msg === 'new certificate files rejected; keeping the current certificates')) {
      if (Date.now() > deadline) assert.fail('rejection was not logged');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(w.source.current().cert, first.certPem);
    assert.equal(w.changes.length, 0);
    // later checks see the same bad content: not logged again
    for (let i = 0; i < 3; i++) await w.source.recheck();
    // the rest of the rotation arrives -> delivered
    await writeFile(path.join(dir, 'tls.key'), second.keyPem);
    const delivered = await w.waitForChange(1);
    assert.equal(delivered.cert, second.certPem);
    assert.equal(w.source.current().key, second.keyPem);
    // (a read racing the in-place write may also see a truncated file: a different content)
    const rejections = w.logs.filter((l) => l.msg === 'new certificate files rejected; keeping the current certificates' && /private key does not belong/.test(String(l.reason)));
    assert.equal(rejections.length, 1, 'the same bad content is logged once although polls keep seeing it');
  } finally {
    await w.source.stop();
  }
});

test('an atomic rename replacement of the files is detected', async () => {
  const dir = await mkdtemp(path.join(root, 'rename-'));
  await writeSet(dir, set(first));
  const w = await watched({ ...filesIn(dir), pollIntervalMs: 3_600_000 }); // only fs.watch can see it
  try {
    const staging = await mkdtemp(path.join(dir, '.staging-'));
    await writeSet(staging, set(second));
    for (const f of ['tls.key', 'ca.crt', 'tls.crt']) await rename(path.join(staging, f), path.join(dir, f));
    assert.equal((await w.waitForChange(1)).cert, second.certPem);
  } finally {
    await w.source.stop();
  }
});

test('a kubelet-style ..data symlink swap is detected by the periodic stat alone', async () => {
  // <dir>/tls.crt -> ..data/tls.crt, ..data -> ..v1; the update writes ..v2 and swaps ..data.
  const dir = await mkdtemp(path.join(root, 'secret-'));
  await mkdir(path.join(dir, '..v1'));
  await writeSet(path.join(dir, '..v1'), set(first));
  await symlink('..v1', path.join(dir, '..data'));
  for (const f of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(path.join('..data', f), path.join(dir, f));
  const clock = new FakeClock();
  const w = await watched({ ...filesIn(dir), useFsWatch: false, clock });
  try {
    await mkdir(path.join(dir, '..v2'));
    await writeSet(path.join(dir, '..v2'), set(second));
    await symlink('..v2', path.join(dir, '..data_tmp'));
    await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    await rm(path.join(dir, '..v1'), { recursive: true });
    assert.equal(w.changes.length, 0, 'nothing looks before the poll');
    await clock.advance(100); // the poll: the stat fingerprint changed, a debounced read follows
    await waitUntil(() => clock.pendingTimers > 1, 'the poll to schedule a read');
    await clock.advance(30);
    assert.equal((await w.waitForChange(1)).key, second.keyPem);
  } finally {
    await w.source.stop();
  }
});

test('deleted files keep the current set until valid files return', async () => {
  const dir = await mkdtemp(path.join(root, 'delete-'));
  await writeSet(dir, set(first));
  const w = await watched(filesIn(dir));
  try {
    await unlink(path.join(dir, 'tls.key'));
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!w.logs.some((l) => l.msg === 'certificate files unreadable; keeping the current certificates')) {
      if (Date.now() > deadline) assert.fail('unreadable files were not logged');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(w.source.current().key, first.keyPem);
    await writeSet(dir, set(second));
    assert.equal((await w.waitForChange(1)).cert, second.certPem);
  } finally {
    await w.source.stop();
  }
});

test('a CRL must be signed by a CA of the bundle and unexpired; --crl-file is read and reloaded with the certificates', async () => {
  const crl = issueCrl(ca, { revokedSerials: [certificateSerial(second.certPem)], validDays: 1 });
  assert.ok(validateCertificateSet({ ...set(first), crl }).ok);
  const foreignCrl = validateCertificateSet({ ...set(first), crl: issueCrl(otherCa, { revokedSerials: [], validDays: 1 }) });
  assert.ok(!foreignCrl.ok);
  assert.match(foreignCrl.reason, /CRL CRL 0 is not signed by a CA of the bundle/);
  const expired = validateCertificateSet({ ...set(first), crl: issueCrl(ca, { revokedSerials: [], validDays: 1, now: () => new Date(Date.now() - 3 * 86_400_000) }) });
  assert.ok(!expired.ok);
  assert.match(expired.reason, /expired .* peers would all be refused/);
  const garbage = validateCertificateSet({ ...set(first), crl: 'not a crl' });
  assert.ok(!garbage.ok);
  assert.match(garbage.reason, /holds no PEM "X509 CRL" block/);

  const dir = await mkdtemp(path.join(root, 'crl-'));
  await writeSet(dir, set(first));
  const crlFile = path.join(dir, 'ca.crl');
  await writeFile(crlFile, issueCrl(ca, { revokedSerials: [], validDays: 1 }));
  const w = await watched({ ...filesIn(dir), crlFile });
  try {
    assert.match(w.source.current().crl ?? '', /BEGIN X509 CRL/);
    await writeFile(crlFile, crl);
    const delivered = await w.waitForChange(1);
    assert.equal(delivered.crl, crl, 'a new CRL alone is a change, delivered like a rotation');
  } finally {
    await w.source.stop();
  }
});
