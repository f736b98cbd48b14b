// `lab chaos`: two brokers on a fresh lab (links and certificates from files) under iperf3
// load, disturbed one way after another: SIGKILL of cluster 2's broker (restarted at
// once), SIGSTOP of it for 10 s, a 15 s blackhole of cluster 2's WAN interface, and a
// certificate rotation (the file form of a Secret rotation). For each: the seconds until
// an HTTP request through the tunnel succeeds again, and the leftovers in cluster 2's
// gateway (SNAT rules, guard chains, proto 211 routes, broker processes). The API server
// restart needs the Kubernetes-mode lab and is not part of this command.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab } from '../lab/lab.js';
import { runIperf } from '../lab/iperf.js';
import { brokerCertificateFiles } from '../lab/kubelink-files.js';
import { FileBrokers } from '../lab/file-brokers.js';
import type { LabCluster } from '../lab/topology.js';
import { INTERNET_INTERFACE } from '../lab/topology.js';
import { issueCertificate } from '../../src/main/certs/pki.js';
import type { Logger } from '../../src/shared/log.js';

const execFileAsync = promisify(execFile);

export interface ChaosStep {
  name: string;
  /** Seconds from the end of the disturbance until a request through the tunnel succeeded. */
  resumeSec: number;
  leftovers: Leftovers;
}

export interface Leftovers {
  snatRules: number;
  guardJumps: number;
  tunRoutes: number;
  brokerProcesses: number;
}

export interface ChaosReport {
  steps: ChaosStep[];
  /** After the brokers stopped cleanly at the end: must all be 0. */
  finalLeftovers: Leftovers;
  iperfGbps: number | null;
  ok: boolean;
  problems: string[];
}

export async function runChaos(options: { prefix?: string; log?: Logger } = {}): Promise<ChaosReport> {
  const lab = new Lab({ clusters: 2, prefix: options.prefix, log: options.log });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
  const brokers = new FileBrokers(lab);
  const certDir = brokers.certDir;
  const leftovers = async (cluster: LabCluster): Promise<Leftovers> => {
    const ns = cluster.gateway.ns;
    const nat = (await lab.exec(ns, ['iptables', '-t', 'nat', '-S', 'POSTROUTING'])).stdout;
    const filter = (await lab.exec(ns, ['iptables', '-S', 'INPUT'])).stdout;
    const routes = (await lab.exec(ns, ['ip', 'route', 'show', 'proto', '211'])).stdout;
    const pids = (await execFileAsync('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }))).stdout.trim().split('\n').filter(Boolean);
    let brokerProcesses = 0;
    for (const pid of pids) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes('cli.js') && cmdline.includes('--controllers')) brokerProcesses++;
    }
    return {
      snatRules: nat.split('\n').filter((l) => l.includes('kubelink:')).length,
      guardJumps: filter.split('\n').filter((l) => l.includes('KUBELINK-IN-')).length,
      tunRoutes: routes.split('\n').filter((l) => l.trim() !== '').length,
      brokerProcesses,
    };
  };
  const resume = async (): Promise<number> => {
    const since = Date.now();
    await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 120_000, intervalMs: 250 });
    return Math.round((Date.now() - since) / 100) / 10;
  };
  const problems: string[] = [];
  try {
    await lab.create();
    await brokers.startAll();
    await resume();
    // Load through the whole sequence; iperf3 may report an error when the outages are long.
    const load = runIperf(lab, c1.pods.client1, c2.serviceIp, { durationSec: 90 }).then((r) => r.bitsPerSecond / 1e9, () => null);
    const steps: ChaosStep[] = [];
    const step = async (name: string, disturb: () => Promise<void>) => {
      await disturb();
      const resumeSec = await resume();
      steps.push({ name, resumeSec, leftovers: await leftovers(c2) });
    };
    await step('SIGKILL of the peer broker, restarted at once', async () => {
      brokers.get(2).kill('SIGKILL');
      await brokers.get(2).stop(5000);
      await brokers.start(c2);
    });
    await step('SIGSTOP of the peer broker for 10 s', async () => {
      brokers.get(2).kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 10_000));
      brokers.get(2).kill('SIGCONT');
    });
    await step("15 s blackhole of the peer gateway's WAN interface", async () => {
      await lab.exec(c2.gateway.ns, ['ip', 'link', 'set', INTERNET_INTERFACE, 'down']);
      await new Promise((r) => setTimeout(r, 15_000));
      await lab.exec(c2.gateway.ns, ['ip', 'link', 'set', INTERNET_INTERFACE, 'up']);
    });
    await step("rotation of the peer broker's certificate (files renamed in)", async () => {
      const files = brokerCertificateFiles(certDir, c2);
      const ca = { certPem: await readFile(path.join(certDir, 'ca.crt'), 'utf8'), keyPem: await readFile(path.join(certDir, 'ca.key'), 'utf8') };
      const renewed = await issueCertificate(ca, { commonName: c2.endpointHost, dnsNames: [c2.endpointHost], validDays: 2 });
      await writeFile(files.keyFile + '.new', renewed.keyPem);
      await writeFile(files.certFile + '.new', renewed.certPem);
      await rename(files.keyFile + '.new', files.keyFile);
      await rename(files.certFile + '.new', files.certFile);
    });
    for (const s of steps) {
      const l = s.leftovers;
      if (l.snatRules !== 1 || l.guardJumps !== 1 || l.brokerProcesses !== 1) problems.push(`after "${s.name}": ${JSON.stringify(l)} (want one SNAT rule, one guard jump, one broker)`);
    }
    const iperfGbps = await load;
    await brokers.stopAll();
    const finalLeftovers = await leftovers(c2);
    if (Object.values(finalLeftovers).some((n) => n !== 0)) problems.push(`after a clean stop: ${JSON.stringify(finalLeftovers)}`);
    return { steps, finalLeftovers, iperfGbps: iperfGbps === null ? null : Math.round(iperfGbps * 100) / 100, ok: problems.length === 0, problems };
  } finally {
    await brokers.stopAll();
    await lab.destroy();
  }
}
