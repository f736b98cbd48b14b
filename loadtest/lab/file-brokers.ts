// Brokers on a lab the simple way (links and certificates from files under the lab's work
// dir, 2 workers each), for the lab tool's soak and chaos runs: one place that knows how
// such a broker is started, so a restart is the same command as the first start.
import path from 'node:path';
import type { Lab } from './lab.js';
import type { LabProcess } from './lab-process.js';
import type { LabCluster } from './topology.js';

export class FileBrokers {
  readonly certDir: string;
  /** The running broker of each cluster, by cluster index. */
  readonly running = new Map<number, LabProcess>();

  constructor(private readonly lab: Lab) {
    this.certDir = path.join(lab.workDir, 'pki');
  }

  /** Writes the certificates and every cluster's links, then starts every broker. */
  async startAll(): Promise<void> {
    await this.lab.writeCertificates(this.certDir);
    for (const cluster of this.lab.clusters) {
      await this.lab.writeLinks(cluster.index, this.linksDir(cluster));
      await this.start(cluster);
    }
  }

  /** Starts (or starts again) `cluster`'s broker. */
  async start(cluster: LabCluster): Promise<LabProcess> {
    const argv = this.lab.kubelinkBrokerArgs(cluster.index, { workers: 2, linksDir: this.linksDir(cluster), certDir: this.certDir });
    const proc = await this.lab.spawn(cluster.gateway.ns, argv, { logFile: path.join(this.lab.workDir, `${cluster.name}-broker-${Date.now()}.log`) });
    this.running.set(cluster.index, proc);
    return proc;
  }

  get(index: number): LabProcess {
    return this.running.get(index)!;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map((b) => b.stop(5000)));
    this.running.clear();
  }

  private linksDir(cluster: LabCluster): string {
    return path.join(this.lab.workDir, cluster.name, 'links');
  }
}
