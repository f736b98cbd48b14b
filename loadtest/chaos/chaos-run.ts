// `lab chaos`: two brokers on a fresh Kubernetes-mode lab (per cluster an API server, the
// broker with --kubeconfig and its TLS Secret, KubeLinks applied with kubectl, the router on
// node 2) under iperf3 load, disturbed one way after another: SIGKILL of cluster 2's broker
// (restarted at once), SIGSTOP of it for 10 s, a 15 s blackhole of cluster 2's WAN
// interface, a restart of cluster 2's API server on its data file (a KubeLink applied right
// after must be seen, the links must stay Up) and a rotation of the broker's TLS Secret with
// kubectl (new connections must get the new certificate). For each: the seconds until an
// HTTP request through the tunnel succeeds again, and the leftovers in cluster 2's gateway
// (SNAT rules, guard chains, proto 211 routes, broker processes).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { Lab } from '../lab/lab.js';
import { runIperf } from '../lab/iperf.js';
import { describeError } from '../lab/error-text.js';
import { LAB_KUBELINK_NAMESPACE } from '../lab/kubelink-files.js';
import { BROKER_SECRET, KubelinkKubernetesPath } from '../lab/kubelink-k8s-path.js';
import { readLinkStates } from '../lab/kubelink-states.js';
import { fetchBrokerMetrics, metricValue } from '../lab/broker-metrics.js';
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
  /** What else the step checked, in words (e.g. how long a change took to be seen). */
  detail?: string;
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
  /** iperf3's own error when it failed (e.g. after a long outage). */
  iperfError?: string;
  ok: boolean;
  problems: string[];
}

/** The fingerprint in `openssl x509 -noout -fingerprint -sha256` output, as Node's fingerprint256 spells it; '' when absent. */
export function opensslFingerprint(output: string): string {
  return /Fingerprint=([0-9A-F:]+)/i.exec(output)?.[1]?.toUpperCase() ?? '';
}

const seconds = (since: number): number => Math.round((Date.now() - since) / 100) / 10;

export interface ChaosOptions {
  prefix?: string;
  log?: Logger;
  /** How long the peer broker stays SIGSTOPped (default 10 s, its lease's renew deadline). */
  stopSec?: number;
  /** How long the peer gateway's WAN interface is down (default 15 s). */
  blackholeSec?: number;
  /** iperf3 seconds of load started before the first disturbance (default 120). */
  loadSec?: number;
}

export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const stopSec = options.stopSec ?? 10;
  const blackholeSec = options.blackholeSec ?? 15;
  // No static routes: node 2 reaches the mesh through the router's routes, as in production.
  const lab = new Lab({ clusters: 2, prefix: options.prefix, log: options.log, staticRoutes: false });
  const k8s = new KubelinkKubernetesPath(lab, { workers: 2, readyTimeoutMs: 60_000 });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
  const problems: string[] = [];
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
  /** Seconds from `since` (default now) until HTTP through the tunnel works. */
  const resume = async (since = Date.now()): Promise<number> => {
    await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 120_000, intervalMs: 250 });
    return seconds(since);
  };
  const linksNotUp = async (): Promise<string[]> =>
    (await k8s.linkStates()).filter((r) => r.state !== 'Up').map((r) => `${r.cluster}/${r.name} ${r.state || 'no state'}`);
  // The certificate c2's broker serves to a new connection, seen from c1's gateway. No client
  // certificate: the server's comes before the broker refuses the handshake.
  const servedFingerprint = async (): Promise<string> => {
    const connect = `${c2.gateway.internetIp}:${c2.brokerPort}`;
    const { stdout } = await lab.exec(c1.gateway.ns, ['sh', '-c',
      `openssl s_client -connect ${connect} -servername ${c2.endpointHost} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`], { timeoutMs: 10_000 });
    return opensslFingerprint(stdout);
  };
  const reconnects = async (): Promise<number> => metricValue(await fetchBrokerMetrics(lab, c1), 'kubelink_tunnel_reconnects_total', { link: c2.name });
  try {
    await lab.create();
    await k8s.up();
    await resume();
    // Load through the whole sequence; iperf3 may report an error when the outages are long.
    let iperfError = '';
    const load = runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: options.loadSec ?? 120 }).then((r) => r.bitsPerSecond / 1e9, (e: unknown) => {
      iperfError = describeError(e);
      return null;
    });
    // Let iperf3 connect before the first outage: the broker SIGKILLed here is back only once
    // its old leader lease expired (~15 s), longer than iperf3's 5 s connect timeout.
    await new Promise((r) => setTimeout(r, 3000));
    const steps: ChaosStep[] = [];
    // `disturb` returns when the disturbance ended, if that was before it returned.
    const step = async (name: string, disturb: () => Promise<number | void>, check?: () => Promise<string>) => {
      const ended = (await disturb()) ?? Date.now();
      const resumeSec = await resume(ended);
      const detail = check ? await check() : undefined;
      steps.push({ name, resumeSec, leftovers: await leftovers(c2), ...(detail ? { detail } : {}) });
    };
    await step('SIGKILL of the peer broker, restarted at once', async () => {
      k8s.broker(2)!.kill('SIGKILL');
      await k8s.stopBroker(2);
      await k8s.startBrokerAgain(2);
    });
    // Stopped for as long as its lease's renew deadline (10 s), the broker may find on SIGCONT
    // that it lost the lease and exit, by design; a Deployment's kubelet would start it again,
    // so the lab does that here and says so.
    let restartedAfterStop = false;
    await step(`SIGSTOP of the peer broker for ${stopSec} s`, async () => {
      const stopped = k8s.broker(2)!;
      stopped.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, stopSec * 1000));
      stopped.kill('SIGCONT');
      const continuedAt = Date.now();
      await Promise.race([stopped.exited, new Promise((r) => setTimeout(r, 3000))]);
      if (!stopped.running()) {
        restartedAfterStop = true;
        await k8s.stopBroker(2);
        await k8s.startBrokerAgain(2);
      }
      return continuedAt;
    }, async () => (restartedAfterStop
      ? 'the broker exited after SIGCONT (lost its leader lease) and was started again, as a kubelet would'
      : 'the broker kept its lease and ran on'));
    await step(`${blackholeSec} s blackhole of the peer gateway's WAN interface`, async () => {
      await lab.exec(c2.gateway.ns, ['ip', 'link', 'set', INTERNET_INTERFACE, 'down']);
      await new Promise((r) => setTimeout(r, blackholeSec * 1000));
      await lab.exec(c2.gateway.ns, ['ip', 'link', 'set', INTERNET_INTERFACE, 'up']);
    });
    // A KubeLink whose cidr overlaps c2's own service network: the broker must mark it
    // Invalid, which shows that it sees a change made while its watch reconnects.
    const probeLink = path.join(lab.workDir, 'chaos-after-restart.yaml');
    let appliedAt = 0;
    await step("restart of the peer cluster's API server (same data file)", async () => {
      await writeFile(probeLink, `apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: KubeLink\nmetadata:\n  name: after-restart\nspec:\n  cidr: ${c2.serviceCidr}\n  clusterAddress: 192.168.0.98/24\n  endpoint: after.kubelink.lab:8088\n`);
      await k8s.restartApiServer(2);
      await lab.kubectl(c2.index, ['apply', '-f', probeLink]);
      appliedAt = Date.now();
    }, async () => {
      let state = '';
      while (Date.now() - appliedAt < 60_000) {
        state = (await readLinkStates(lab, c2.index).catch(() => [])).find((r) => r.name === 'after-restart')?.state ?? '';
        if (state === 'Invalid') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const seen = seconds(appliedAt);
      if (state !== 'Invalid') problems.push(`KubeLink applied after the API server restart not marked Invalid within 60 s (state "${state}")`);
      await lab.kubectl(c2.index, ['delete', 'klink', 'after-restart']);
      const notUp = await linksNotUp();
      if (notUp.length > 0) problems.push(`after the API server restart: ${notUp.join(', ')}`);
      return `KubeLink applied right after the restart marked Invalid after ${seen} s; KubeLinks ${notUp.length === 0 ? 'all Up' : 'not Up: ' + notUp.join(', ')}`;
    });
    let expected = '';
    let reconnectsBefore = 0;
    let rotatedAt = 0;
    await step("rotation of the peer broker's TLS Secret (kubectl apply)", async () => {
      reconnectsBefore = await reconnects();
      const ca = { certPem: await readFile(path.join(k8s.certDir, 'ca.crt'), 'utf8'), keyPem: await readFile(path.join(k8s.certDir, 'ca.key'), 'utf8') };
      const renewed = await issueCertificate(ca, { commonName: c2.endpointHost, dnsNames: [c2.endpointHost], validDays: 2 });
      const dir = path.join(lab.workDir, 'rotated');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'tls.crt'), renewed.certPem);
      await writeFile(path.join(dir, 'tls.key'), renewed.keyPem);
      expected = new X509Certificate(renewed.certPem).fingerprint256;
      const secret = await lab.kubectl(c2.index, [
        '-n', LAB_KUBELINK_NAMESPACE, 'create', 'secret', 'generic', BROKER_SECRET, '--type=kubernetes.io/tls', '--dry-run=client', '-o', 'yaml',
        `--from-file=tls.crt=${path.join(dir, 'tls.crt')}`, `--from-file=tls.key=${path.join(dir, 'tls.key')}`, `--from-file=ca.crt=${path.join(k8s.certDir, 'ca.crt')}`,
      ]);
      await writeFile(path.join(dir, 'secret.yaml'), secret.stdout);
      await lab.kubectl(c2.index, ['apply', '-f', path.join(dir, 'secret.yaml')]);
      rotatedAt = Date.now();
    }, async () => {
      let served = '';
      while (Date.now() - rotatedAt < 30_000) {
        served = await servedFingerprint().catch(() => '');
        if (served === expected) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const seen = seconds(rotatedAt);
      const reconnected = (await reconnects()) - reconnectsBefore;
      if (served !== expected) problems.push(`after the Secret rotation new connections still get ${served || 'no certificate'}, not ${expected}`);
      if (reconnected !== 0) problems.push(`the Secret rotation cost ${reconnected} tunnel reconnects`);
      return `new connections got the new certificate after ${served === expected ? seen + ' s' : 'never (30 s)'}; tunnel reconnects ${reconnected}`;
    });
    for (const s of steps) {
      const l = s.leftovers;
      if (l.snatRules !== 1 || l.guardJumps !== 1 || l.brokerProcesses !== 1) problems.push(`after "${s.name}": ${JSON.stringify(l)} (want one SNAT rule, one guard jump, one broker)`);
    }
    const iperfGbps = await load;
    await k8s.stopBroker(1);
    await k8s.stopBroker(2);
    const finalLeftovers = await leftovers(c2);
    if (Object.values(finalLeftovers).some((n) => n !== 0)) problems.push(`after a clean stop: ${JSON.stringify(finalLeftovers)}`);
    return { steps, finalLeftovers, iperfGbps: iperfGbps === null ? null : Math.round(iperfGbps * 100) / 100, ...(iperfError ? { iperfError } : {}), ok: problems.length === 0, problems };
  } finally {
    await k8s.down();
    await lab.destroy();
  }
}
