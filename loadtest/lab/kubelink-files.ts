// What a lab broker needs on disk and on its command line: KubeLink manifests for a full
// mesh, certificates from a lab CA, and the broker argv. Tests, the bench and the load
// tests all start brokers through these, so they start them the same way.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { createCa, issueCertificate } from '../../src/main/certs/pki.js';
import { KUBELINK_API_VERSION, KUBELINK_KIND, type KubeLinkResource } from '../../src/shared/types.js';
import type { LabCluster, LabTopology } from './topology.js';

/** One broker's files in the layout of a kubernetes.io/tls Secret. */
export interface BrokerCertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface LabCertificateFiles {
  caCertFile: string;
  caKeyFile: string;
  /** Per cluster name (`c1`...). */
  brokers: Record<string, BrokerCertificateFiles>;
}

export interface CertificateWriteOptions {
  /** Default 30. */
  validDays?: number;
  /** Clusters that get a broker certificate; default every cluster. */
  clusters?: readonly LabCluster[];
  /** CN of the CA. Default `kubelink lab CA <prefix>`. */
  caCommonName?: string;
}

/** Where broker `cluster`'s certificate files live under `certDir`. */
export function brokerCertificateFiles(certDir: string, cluster: LabCluster): BrokerCertificateFiles {
  const dir = path.join(certDir, cluster.name);
  return { certFile: path.join(dir, 'tls.crt'), keyFile: path.join(dir, 'tls.key'), caFile: path.join(dir, 'ca.crt') };
}

/**
 * Issues a lab CA and one certificate per broker (CN and DNS SAN = the endpoint host) into
 * `certDir`: `ca.crt`, `ca.key`, and `<cluster>/{tls.crt,tls.key,ca.crt}`.
 */
export async function writeLabCertificates(topology: LabTopology, certDir: string, options: CertificateWriteOptions = {}): Promise<LabCertificateFiles> {
  const validDays = options.validDays ?? 30;
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ commonName: options.caCommonName ?? `kubelink lab CA ${topology.prefix}`, validDays });
  const caCertFile = path.join(certDir, 'ca.crt');
  const caKeyFile = path.join(certDir, 'ca.key');
  await writeFile(caCertFile, ca.certPem);
  await writeFile(caKeyFile, ca.keyPem, { mode: 0o600 });
  const brokers: Record<string, BrokerCertificateFiles> = {};
  for (const cluster of options.clusters ?? topology.clusters) {
    const issued = await issueCertificate(ca, { commonName: cluster.endpointHost, dnsNames: [cluster.endpointHost], validDays });
    const files = brokerCertificateFiles(certDir, cluster);
    await mkdir(path.dirname(files.certFile), { recursive: true, mode: 0o700 });
    await writeFile(files.certFile, issued.certPem);
    await writeFile(files.keyFile, issued.keyPem, { mode: 0o600 });
    await writeFile(files.caFile, ca.certPem);
    brokers[cluster.name] = files;
  }
  return { caCertFile, caKeyFile, brokers };
}

/**
 * The KubeLink cluster `local` holds for peer `remote`; without its cidr when the service
 * CIDRs overlap (the lab's sameServiceCidr): such a link carries only egress.
 */
export function kubeLinkFor(remote: LabCluster, options: { withCidr?: boolean } = {}): KubeLinkResource {
  const spec = { clusterAddress: remote.clusterAddress, endpoint: remote.endpoint };
  return {
    apiVersion: KUBELINK_API_VERSION,
    kind: KUBELINK_KIND,
    metadata: { name: remote.name },
    spec: options.withCidr === false ? spec : { cidr: remote.serviceCidr, ...spec },
  };
}

/** Writes `<dir>/<peer>.yaml` for every other cluster (a full mesh); returns the file paths. */
export async function writeLabLinks(topology: LabTopology, local: LabCluster, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const remote of topology.clusters) {
    if (remote.index === local.index) continue;
    const file = path.join(dir, `${remote.name}.yaml`);
    await writeFile(file, stringify(kubeLinkFor(remote, { withCidr: !topology.sameServiceCidr })));
    files.push(file);
  }
  return files;
}

/** Namespace of the broker's Secret and Lease in a lab API server (as in k8s/). */
export const LAB_KUBELINK_NAMESPACE = 'kube-system';

export interface BrokerArgsOptions {
  workers: number;
  /** KubeLinks from this directory (--links); give this or `kubeconfig`. */
  linksDir?: string;
  /** KubeLinks (and the Lease) from this cluster's API server (--kubeconfig). */
  kubeconfig?: string;
  /** Certificates from files under certDir (see brokerCertificateFiles); give this or `secret`. */
  certDir?: string;
  /** Certificates from this kubernetes.io/tls Secret in kube-system (--secret); needs `kubeconfig`. */
  secret?: string;
  /** Default 'info'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Default 8080; 0 disables. */
  httpPort?: number;
  /** Appended as given (e.g. ['--mtu', '9000']). */
  extraArgs?: readonly string[];
}

/** The argv (node + entry + flags) of cluster `cluster`'s broker, to run in its gateway namespace. */
export function brokerArgs(nodeBinary: string, entry: string, cluster: LabCluster, options: BrokerArgsOptions): string[] {
  if ((options.linksDir === undefined) === (options.kubeconfig === undefined)) throw new Error('brokerArgs: give exactly one of linksDir and kubeconfig');
  if ((options.certDir === undefined) === (options.secret === undefined)) throw new Error('brokerArgs: give exactly one of certDir and secret');
  const links = options.linksDir !== undefined ? ['--links', options.linksDir] : ['--kubeconfig', options.kubeconfig!];
  let certificates: string[];
  if (options.certDir !== undefined) {
    const certs = brokerCertificateFiles(options.certDir, cluster);
    certificates = ['--certfile', certs.certFile, '--keyfile', certs.keyFile, '--cacertfile', certs.caFile];
  } else {
    certificates = ['--secret', options.secret!, '--namespace', LAB_KUBELINK_NAMESPACE];
  }
  return [
    nodeBinary,
    entry,
    '--controllers=broker',
    '--link-address', cluster.clusterAddress,
    '--service-cidr', cluster.serviceCidr,
    '--node-cidr', cluster.nodeCidr,
    '--pod-cidr', cluster.podCidr,
    '--broker-port', String(cluster.brokerPort),
    // Names across the mesh: this cluster's name and kubelink's default DNS settings.
    '--cluster-name', cluster.name,
    ...links,
    ...certificates,
    '--workers', String(options.workers),
    '--server-port-http', String(options.httpPort ?? 8080),
    '--log-level', options.logLevel ?? 'info',
    ...(options.extraArgs ?? []),
  ];
}

export interface RouterArgsOptions {
  kubeconfig: string;
  /** Default 'info'. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Default 8181 (as in k8s/router.yaml); 0 disables. */
  httpPort?: number;
}

/** The argv of the router of `cluster`, to run on its second node (the gateway node needs none). */
export function routerArgs(nodeBinary: string, entry: string, cluster: LabCluster, options: RouterArgsOptions): string[] {
  return [
    nodeBinary,
    entry,
    '--controllers=router',
    '--kubeconfig', options.kubeconfig,
    '--node-cidr', cluster.nodeCidr,
    '--pod-cidr', cluster.podCidr,
    '--link-address', cluster.clusterAddress,
    '--server-port-http', String(options.httpPort ?? 8181),
    '--log-level', options.logLevel ?? 'info',
  ];
}
