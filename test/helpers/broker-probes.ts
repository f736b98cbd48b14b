// Probes lab tests use to look at a running broker from outside: its /metrics, and a
// scripted peer (test/lab/fixtures/fake-peer) dialing it with chosen certificates.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../loadtest/lab/lab.js';
import { fetchBrokerMetrics, metricValue } from '../../loadtest/lab/broker-metrics.js';
import type { LabCluster } from '../../loadtest/lab/topology.js';
import { issueCertificate, type CertificateAuthority } from '../../src/main/certs/pki.js';
import type { FakePeerReport } from '../fixtures/fake-peer.js';

const FAKE_PEER = fileURLToPath(new URL('../fixtures/fake-peer.js', import.meta.url));

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** One sample of a broker metric (0 when the series is absent), e.g. ('kubelink_link_up', {link: 'c2'}). */
export async function brokerMetric(lab: Lab, cluster: LabCluster, name: string, labels: Record<string, string> = {}, port = 8080): Promise<number> {
  return metricValue(await fetchBrokerMetrics(lab, cluster, port), name, labels);
}

/** The lab CA written by lab.writeCertificates(certDir). */
export async function labCa(certDir: string): Promise<CertificateAuthority> {
  return { certPem: await readFile(path.join(certDir, 'ca.crt'), 'utf8'), keyPem: await readFile(path.join(certDir, 'ca.key'), 'utf8') };
}

/** Certificate files for `name`, issued by `ca`, under `dir`. */
export async function issueCertificateFiles(ca: CertificateAuthority, name: string, dir: string, caFile: string): Promise<CertificateFiles> {
  const issued = await issueCertificate(ca, { commonName: name, dnsNames: [name], validDays: 1 });
  await mkdir(dir, { recursive: true });
  const files = { certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), caFile };
  await writeFile(files.certFile, issued.certPem);
  await writeFile(files.keyFile, issued.keyPem);
  return files;
}

/** A lab-CA certificate for a name no link has: TLS succeeds, identification fails. */
export async function rogueCertificateFiles(lab: Lab, certDir: string): Promise<CertificateFiles> {
  return issueCertificateFiles(await labCa(certDir), 'rogue.kubelink.lab', path.join(lab.workDir, 'rogue'), path.join(certDir, 'ca.crt'));
}

/**
 * Runs the fake peer in `from`'s gateway namespace against `to`'s broker. `packets` are
 * "src>dst" pairs sent as IP frames after the hello; `rawFrames` are hex bytes (frame
 * headers included) written after them.
 */
export async function runFakePeer(lab: Lab, from: LabCluster, to: LabCluster, certs: CertificateFiles, packets: string[] = [], rawFrames: string[] = []): Promise<FakePeerReport> {
  const argv = [lab.nodeBinary, FAKE_PEER, '--host', to.endpointHost, '--port', String(to.brokerPort), '--servername', to.endpointHost,
    '--cert', certs.certFile, '--key', certs.keyFile, '--ca', certs.caFile, '--cluster-address', from.clusterAddress.split('/')[0]!, '--wait-ms', '2000',
    ...packets.flatMap((p) => ['--packet', p]), ...rawFrames.flatMap((hex) => ['--raw', hex])];
  const { stdout } = await lab.exec(from.gateway.ns, argv);
  return JSON.parse(stdout.trim().split('\n').pop()!) as FakePeerReport;
}
