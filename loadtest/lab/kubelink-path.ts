// The kubelink path: the real broker in every selected cluster's gateway namespace, started
// with the lab's certificates and full-mesh KubeLink manifests, up once the echo service of
// every peer answers through the tunnel in both directions.

import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { LabContext } from './lab-context.js';
import type { LabPath } from './lab-path.js';
import { processExitedError, type LabProcess } from './lab-process.js';
import { brokerArgs, type BrokerArgsOptions } from './kubelink-files.js';
import type { LabCluster } from './topology.js';

export interface KubelinkPathOptions {
  /** --workers of every broker. */
  workers: number;
  /** Clusters that get a broker (and links to each other). Default: all. */
  clusters?: readonly LabCluster[];
  logLevel?: BrokerArgsOptions['logLevel'];
  /** Extra broker flags, e.g. ['--mtu', '9000']. */
  extraArgs?: readonly string[];
  /** How long the tunnels may take to pass traffic. Default 30 000 ms. */
  readyTimeoutMs?: number;
  /** Name in tables and of the work dir; default kubelink-w<workers>. */
  name?: string;
  /** Node binary of the brokers (default the lab's), e.g. to compare Node versions. */
  nodeBinary?: string;
  /** kubelink entry script (default the lab's), e.g. another build to compare against. */
  entry?: string;
}

export class KubelinkPath implements LabPath {
  readonly name: string;
  private readonly clusters: readonly LabCluster[];
  private readonly dir: string;
  private brokers: LabProcess[] = [];

  constructor(
    private readonly lab: LabContext,
    private readonly options: KubelinkPathOptions,
  ) {
    this.name = options.name ?? `kubelink-w${options.workers}`;
    this.clusters = options.clusters ?? lab.clusters;
    this.dir = path.join(lab.workDir, this.name);
  }

  /** Broker processes while the path is up (e.g. to read their logs or CPU time). */
  get processes(): readonly LabProcess[] {
    return this.brokers;
  }

  async up(): Promise<void> {
    const { lab, options } = this;
    lab.log.info('lab: kubelink path up', { workers: options.workers, clusters: this.clusters.map((c) => c.name) });
    const certDir = path.join(this.dir, 'pki');
    await lab.writeCertificates(certDir, { clusters: this.clusters });
    for (const cluster of this.clusters) {
      const linksDir = path.join(this.dir, cluster.name, 'links');
      await rm(linksDir, { recursive: true, force: true });
      await lab.writeLinks(cluster.index, linksDir);
      const argv = brokerArgs(options.nodeBinary ?? lab.nodeBinary, options.entry ?? lab.kubelinkEntry, cluster, {
        workers: options.workers,
        linksDir,
        certDir,
        logLevel: options.logLevel,
        extraArgs: options.extraArgs,
      });
      this.brokers.push(await lab.spawn(cluster.gateway.ns, argv, { logFile: path.join(this.dir, `${cluster.name}-broker.log`) }));
    }
    await this.waitForTraffic();
  }

  private waitForTraffic(): Promise<void> {
    return waitForMeshTraffic(this.lab, this.clusters, this.brokers, this.options.readyTimeoutMs ?? 30_000);
  }

  async down(): Promise<void> {
    this.lab.log.info('lab: kubelink path down', { workers: this.options.workers });
    await Promise.all(this.brokers.map((b) => b.stop(5000)));
    this.brokers = [];
  }
}

/**
 * Every ordered pair of `clusters` exchanges one HTTP request through the tunnel (from the
 * pod on node 2, so the route via the gateway node is used too); fails early when one of
 * `processes` exits.
 */
export async function waitForMeshTraffic(lab: LabContext, clusters: readonly LabCluster[], processes: readonly LabProcess[], timeoutMs: number): Promise<void> {
  for (const from of clusters) {
    for (const to of clusters) {
      if (from.index === to.index) continue;
      await lab.retry(`kubelink tunnel ${from.name} -> ${to.name}`, { timeoutMs, intervalMs: 300 }, async () => {
        const dead = processes.find((p) => !p.running());
        if (dead) throw processExitedError(dead);
        const reply = await lab.requestEcho(from.pods.client2, to.serviceIp, 2000);
        if (reply.cluster !== to.name) throw new Error(`answered by ${reply.cluster}`);
      });
    }
  }
}
