// The kubelink path with Kubernetes, as in production: per cluster an API server, the
// KubeLink CRD applied from k8s/ with the real kubectl, the broker on the gateway node
// (`--kubeconfig`, leader election, status written back), the router on node 2 (routes
// from status.gateway), and the full mesh of KubeLinks applied with `kubectl apply -f`.
// Up once every KubeLink of every cluster reports state Up and every pair of clusters
// exchanges HTTP through its service IP. Build the lab with `staticRoutes: false`, so
// that node 2 reaches the mesh through the router's routes only.

import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LabApiServer } from './api-server.js';
import { brokerCertificateFiles, LAB_KUBELINK_NAMESPACE, routerArgs, type BrokerArgsOptions } from './kubelink-files.js';
import { waitForMeshTraffic } from './kubelink-path.js';
import { readLinkStates, type LinkRow } from './kubelink-states.js';
import { writeKubectlWrapper } from './kubectl.js';
import type { LabContext } from './lab-context.js';
import type { LabPath } from './lab-path.js';
import { processExitedError, type LabProcess } from './lab-process.js';
import { kubeLinkCrdManifest } from './repo-root.js';
import { BROKER_DNS_PORT, CLUSTER_DNS_PORT, type LabCluster } from './topology.js';

/** The broker's TLS Secret, named as in k8s/broker.yaml. */
export const BROKER_SECRET = 'kubelink';

const CLUSTER_DNS_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cluster-dns-standin.js');

/** The echo Service as a manifest: what the cluster DNS stand-in answers echo.default.svc.<cluster domain> from. */
export function echoServiceManifest(cluster: LabCluster): string {
  return [
    'apiVersion: v1',
    'kind: Service',
    'metadata: { name: echo, namespace: default }',
    'spec:',
    `  clusterIP: ${cluster.serviceIp}`,
    '  selector: { app: echo }',
    `  ports: [{ name: http, port: ${cluster.echoHttpPort}, protocol: TCP }]`,
    '',
  ].join('\n');
}

export interface KubelinkKubernetesPathOptions {
  /** --workers of every broker. */
  workers: number;
  /** Clusters that take part (API server, broker, router, links to each other). Default: all. */
  clusters?: readonly LabCluster[];
  logLevel?: BrokerArgsOptions['logLevel'];
  /** Extra broker flags, e.g. ['--mtu', '9000']. */
  extraBrokerArgs?: readonly string[];
  /** A router on node 2 of every cluster. Default true. */
  routers?: boolean;
  /** How long the links may take to be Up and pass traffic. Default 60 000 ms. */
  readyTimeoutMs?: number;
  /** Told each step as it happens (one line for people; details go to the lab's logger). */
  onStep?: (message: string) => void;
  /**
   * Turns cluster `cluster`'s broker argv (node + entry + flags) into the argv to spawn,
   * e.g. to run it under a profiler. Default: unchanged.
   */
  wrapBroker?: (cluster: LabCluster, argv: string[]) => string[];
}

/** A link of one cluster, named for messages: `c1/c2`. */
export interface ClusterLinkRow extends LinkRow {
  cluster: string;
}

export class KubelinkKubernetesPath implements LabPath {
  readonly name: string;
  readonly clusters: readonly LabCluster[];
  readonly certDir: string;
  private readonly apiServers = new Map<number, LabApiServer>();
  private readonly brokers = new Map<number, LabProcess>();
  private readonly routers = new Map<number, LabProcess>();
  private readonly clusterDns = new Map<number, LabProcess>();
  private workers: number;

  constructor(
    private readonly lab: LabContext,
    private readonly options: KubelinkKubernetesPathOptions,
  ) {
    this.workers = options.workers;
    this.name = `kubelink-k8s-w${options.workers}`;
    this.clusters = options.clusters ?? lab.clusters;
    this.certDir = path.join(lab.workDir, 'pki');
  }

  private step(message: string): void {
    this.lab.log.info(`lab: ${message}`);
    this.options.onStep?.(message);
  }

  /** The broker process of cluster `index` while it runs. */
  broker(index: number): LabProcess | undefined {
    return this.brokers.get(index);
  }

  /** The API server of cluster `index` while it runs. */
  apiServer(index: number): LabApiServer | undefined {
    return this.apiServers.get(index);
  }

  /** Stops cluster `index`'s API server and starts it again on the same data file. */
  async restartApiServer(index: number): Promise<LabApiServer> {
    await this.apiServers.get(index)?.process.stop(5000);
    const api = await this.lab.startApiServer(index);
    this.apiServers.set(index, api);
    return api;
  }

  /** Every process of the path: API servers, cluster DNS stand-ins, brokers, routers. */
  get processes(): LabProcess[] {
    return [...this.apiServers.values()].map((a) => a.process).concat([...this.clusterDns.values()], [...this.brokers.values()], [...this.routers.values()]);
  }

  async up(): Promise<void> {
    const { lab } = this;
    await lab.writeCertificates(this.certDir, { clusters: this.clusters });
    this.step(`certificates: lab CA and ${this.clusters.length} broker certificates (CN = endpoint) in ${this.certDir}`);
    await Promise.all(this.clusters.map((c) => this.startControlPlane(c)));
    for (const cluster of this.clusters) {
      await this.startBroker(cluster);
      if (this.options.routers ?? true) await this.startRouter(cluster);
    }
    for (const cluster of this.clusters) await this.applyLinks(cluster);
    await this.waitUntilReady();
  }

  private async startControlPlane(cluster: LabCluster): Promise<void> {
    const api = await this.lab.startApiServer(cluster.index);
    this.apiServers.set(cluster.index, api);
    await this.lab.kubectl(cluster.index, ['apply', '-f', kubeLinkCrdManifest()]);
    await writeKubectlWrapper(this.lab.workDir, cluster);
    this.step(`${cluster.name}: API server ${api.url} in ${cluster.controlPlane.ns}; kubectl apply -f k8s/crds/kubelink-crd.yaml`);
    const certs = brokerCertificateFiles(this.certDir, cluster);
    // The way an administrator without cert-management creates it (see README).
    await this.lab.kubectl(cluster.index, [
      '-n', LAB_KUBELINK_NAMESPACE, 'create', 'secret', 'generic', BROKER_SECRET, '--type=kubernetes.io/tls',
      `--from-file=tls.crt=${certs.certFile}`, `--from-file=tls.key=${certs.keyFile}`, `--from-file=ca.crt=${certs.caFile}`,
    ]);
    this.step(`${cluster.name}: Secret ${LAB_KUBELINK_NAMESPACE}/${BROKER_SECRET} (kubernetes.io/tls with ca.crt) for the broker`);
    await this.startClusterDns(cluster);
  }

  /**
   * The Service echo (default namespace, ClusterIP = the echo service IP) and the cluster
   * DNS stand-in on node 2, which answers it and forwards the mesh domain to the broker's
   * DNS on the gateway node, as CoreDNS with the stub domain of k8s/ does.
   */
  private async startClusterDns(cluster: LabCluster): Promise<void> {
    const api = this.apiServers.get(cluster.index)!;
    const manifest = path.join(this.lab.workDir, cluster.name, 'echo-service.yaml');
    await writeFile(manifest, echoServiceManifest(cluster));
    await this.lab.kubectl(cluster.index, ['apply', '-f', manifest]);
    const logFile = path.join(this.lab.workDir, cluster.name, 'cluster-dns.log');
    const argv = [
      this.lab.nodeBinary, CLUSTER_DNS_SCRIPT,
      '--kubeconfig', api.files.kubeconfig,
      '--listen', cluster.node2.nodeIp,
      '--port', String(CLUSTER_DNS_PORT),
      '--broker', `${cluster.gateway.nodeIp}:${BROKER_DNS_PORT}`,
      '--domain', cluster.clusterDomain,
    ];
    this.clusterDns.set(cluster.index, await this.lab.spawn(cluster.node2.ns, argv, { logFile }));
    this.step(`${cluster.name}: Service default/echo (${cluster.serviceIp}); cluster DNS stand-in at ${cluster.dnsIp} (node 2), mesh domain forwarded to the broker's DNS`);
  }

  private async startBroker(cluster: LabCluster, extraArgs: readonly string[] = []): Promise<void> {
    const argv = this.lab.kubelinkBrokerArgs(cluster.index, {
      workers: this.workers,
      kubeconfig: this.apiServers.get(cluster.index)!.files.kubeconfig,
      secret: BROKER_SECRET,
      logLevel: this.options.logLevel,
      // Where this cluster's DNS is, as a deployment states it (k8s/ values.yaml): the
      // broker asks it for own names and announces it to its peers.
      extraArgs: ['--cluster-dns-ip', cluster.dnsIp, '--cluster-domain', cluster.clusterDomain, ...(this.options.extraBrokerArgs ?? []), ...extraArgs],
    });
    const wrapped = this.options.wrapBroker?.(cluster, argv) ?? argv;
    const logFile = path.join(this.lab.workDir, cluster.name, 'broker.log');
    this.brokers.set(cluster.index, await this.lab.spawn(cluster.gateway.ns, wrapped, { logFile }));
    this.step(`${cluster.name}: broker --workers ${this.workers} on the gateway node (${cluster.gateway.ns}), log ${logFile}`);
  }

  private async startRouter(cluster: LabCluster): Promise<void> {
    const argv = routerArgs(this.lab.nodeBinary, this.lab.kubelinkEntry, cluster, {
      kubeconfig: this.apiServers.get(cluster.index)!.files.kubeconfig,
      logLevel: this.options.logLevel,
    });
    const logFile = path.join(this.lab.workDir, cluster.name, 'router.log');
    this.routers.set(cluster.index, await this.lab.spawn(cluster.node2.ns, argv, { logFile }));
    this.step(`${cluster.name}: router on node 2 (${cluster.node2.ns})`);
  }

  private async applyLinks(cluster: LabCluster): Promise<void> {
    const dir = path.join(this.lab.workDir, cluster.name, 'kubelinks');
    await rm(dir, { recursive: true, force: true });
    const files = await this.lab.writeLinks(cluster.index, dir);
    await this.lab.kubectl(cluster.index, ['apply', '-f', dir]);
    this.step(`${cluster.name}: kubectl apply -f ${dir} (${files.length} KubeLink${files.length === 1 ? '' : 's'})`);
  }

  /** Every cluster's KubeLinks, read with kubectl. */
  async linkStates(): Promise<ClusterLinkRow[]> {
    const rows = await Promise.all(
      this.clusters.map(async (c) => (await readLinkStates(this.lab, c.index)).map((r) => ({ ...r, cluster: c.name }))),
    );
    return rows.flat();
  }

  /** Waits until every KubeLink is Up and every pair of clusters exchanges HTTP. */
  async waitUntilReady(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 60_000;
    await this.waitForLinksUp(timeoutMs);
    // With one service CIDR everywhere a service IP is local: traffic needs MeshServices.
    if (this.lab.topology.sameServiceCidr) return;
    await waitForMeshTraffic(this.lab, this.clusters, [...this.brokers.values()], timeoutMs);
    this.step(`traffic: every pair of the ${this.clusters.length} clusters exchanged HTTP through its service IP`);
  }

  private async waitForLinksUp(timeoutMs: number): Promise<void> {
    const expected = this.clusters.length * (this.clusters.length - 1);
    const deadline = Date.now() + timeoutMs;
    let reported = -1;
    let rows: ClusterLinkRow[] = [];
    for (;;) {
      const dead = this.processes.find((p) => !p.running());
      if (dead) throw processExitedError(dead);
      rows = await this.linkStates().catch(() => rows);
      const up = rows.filter((r) => r.state === 'Up').length;
      if (up !== reported) {
        this.step(`links: ${up}/${expected} Up`);
        reported = up;
      }
      if (up === expected && rows.length === expected) return;
      if (Date.now() > deadline) {
        const notUp = rows.filter((r) => r.state !== 'Up').map((r) => `${r.cluster}/${r.name} ${r.state || 'no state'}${r.message ? ` (${r.message})` : ''}`);
        throw new Error(`KubeLinks not Up after ${timeoutMs} ms: ${notUp.join('; ') || `${rows.length} of ${expected} exist`}`);
      }
      await sleep(500);
    }
  }

  /** Stops cluster `index`'s broker (its peers see the link go Down). */
  async stopBroker(index: number): Promise<void> {
    await this.brokers.get(index)?.stop(10_000);
    this.brokers.delete(index);
  }

  /** Starts cluster `index`'s broker again after stopBroker, with `extraArgs` appended to its flags this time (e.g. another --dns-port). */
  async startBrokerAgain(index: number, extraArgs: readonly string[] = []): Promise<void> {
    const cluster = this.clusters.find((c) => c.index === index);
    if (!cluster) throw new RangeError(`cluster ${index} is not part of this path`);
    await this.startBroker(cluster, extraArgs);
  }

  /** Replaces every broker by one with `workers` shards and waits until the mesh works again. */
  async restartBrokers(workers: number): Promise<void> {
    await Promise.all([...this.brokers.values()].map((b) => b.stop(10_000)));
    this.brokers.clear();
    this.workers = workers;
    for (const cluster of this.clusters) await this.startBroker(cluster);
    await this.waitUntilReady();
  }

  async down(): Promise<void> {
    this.lab.log.info('lab: kubelink path with Kubernetes down');
    await Promise.all([...this.brokers.values(), ...this.routers.values(), ...this.clusterDns.values()].map((p) => p.stop(10_000)));
    await Promise.all([...this.apiServers.values()].map((a) => a.process.stop(5000)));
    this.brokers.clear();
    this.routers.clear();
    this.clusterDns.clear();
    this.apiServers.clear();
  }
}
