// `lab fuzz`: a two-cluster lab where cluster 1's broker runs and a fuzzing peer holding
// cluster 2's lab certificate sends it a seeded hostile mix. Checks, exactly:
// - capture at cluster 1's gateway: iptables counters on what leaves the TUN (mangle
//   PREROUTING -i kubelink, before any other rule): packets the inbound check allows
//   (peer cluster address -> local service CIDR or cluster address, peer service CIDR ->
//   cluster address) are counted apart from anything else, which must be 0;
// - every drop and malformed counter of the broker grew by what was sent of its kind;
// - what passed the TUN equals the 'pass' frames sent (less ring-full drops, reported).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../lab/lab.js';
import { brokerCertificateFiles } from '../lab/kubelink-files.js';
import { fetchBrokerMetrics, metricValue } from '../lab/broker-metrics.js';
import type { LabCluster } from '../lab/topology.js';
import type { Logger } from '../../src/shared/log.js';
import { DROP_VERDICTS, MALFORMED_VERDICTS, type FuzzVerdict } from './hostile-frames.js';
import type { FuzzPeerReport } from './fuzz-peer.js';

const FUZZ_PEER = fileURLToPath(new URL('./fuzz-peer.js', import.meta.url));
const CAPTURE_CHAIN = 'KLFUZZ-CAPTURE';

export interface FuzzOptions {
  frames: number;
  seed: number;
  prefix?: string;
  log?: Logger;
}

export interface FuzzReport {
  seed: number;
  framesSent: number;
  sent: Record<FuzzVerdict, number>;
  /** Growth of the broker's counter for each drop or malformed reason. */
  counted: Record<Exclude<FuzzVerdict, 'pass'>, number>;
  /** Packets that left the TUN inside what the inbound check allows / outside it (must be 0). */
  passedAtTun: number;
  forbiddenPassed: number;
  ringFullDrops: number;
  /** Every check held. */
  ok: boolean;
  problems: string[];
}

function address(cidrText: string): string {
  return cidrText.split('/')[0]!;
}

/** The capture rules: allowed traffic RETURNs from the first three, anything else hits the last. */
function captureRules(peer: LabCluster, local: LabCluster): string[][] {
  return [
    ['-s', address(peer.clusterAddress), '-d', local.serviceCidr, '-j', 'RETURN'],
    ['-s', address(peer.clusterAddress), '-d', address(local.clusterAddress), '-j', 'RETURN'],
    ['-s', peer.serviceCidr, '-d', address(local.clusterAddress), '-j', 'RETURN'],
    ['-j', 'RETURN'],
  ];
}

async function captureCounts(lab: Lab, ns: string): Promise<number[]> {
  const listing = (await lab.exec(ns, ['iptables', '-t', 'mangle', '-L', CAPTURE_CHAIN, '-v', '-x', '-n'])).stdout;
  return listing.split('\n').slice(2).filter((l) => l.trim() !== '').map((l) => Number(l.trim().split(/\s+/)[0]));
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const lab = new Lab({ clusters: 2, prefix: options.prefix, log: options.log });
  const [local, peer] = [lab.cluster(1), lab.cluster(2)];
  try {
    await lab.create();
    const certDir = path.join(lab.workDir, 'pki');
    await lab.writeCertificates(certDir);
    const linksDir = path.join(lab.workDir, local.name, 'links');
    await lab.writeLinks(local.index, linksDir);
    const broker = await lab.spawn(local.gateway.ns, lab.kubelinkBrokerArgs(local.index, { workers: 2, linksDir, certDir }), { logFile: path.join(lab.workDir, `${local.name}-broker.log`) });
    try {
      await lab.waitForListening(local.gateway.ns, local.brokerPort, { timeoutMs: 30_000 });
      await lab.waitForListening(local.gateway.ns, 8080, { timeoutMs: 30_000 });
      const ns = local.gateway.ns;
      await lab.exec(ns, ['iptables', '-t', 'mangle', '-N', CAPTURE_CHAIN]);
      for (const rule of captureRules(peer, local)) await lab.exec(ns, ['iptables', '-t', 'mangle', '-A', CAPTURE_CHAIN, ...rule]);
      await lab.exec(ns, ['iptables', '-t', 'mangle', '-I', 'PREROUTING', '1', '-i', 'kubelink', '-j', CAPTURE_CHAIN]);

      const metric = (text: string, verdict: string) =>
        metricValue(text, (MALFORMED_VERDICTS as readonly string[]).includes(verdict) ? 'kubelink_malformed_frames_total' : 'kubelink_dropped_packets_total', { reason: verdict });
      const before = await fetchBrokerMetrics(lab, local);
      const certs = brokerCertificateFiles(certDir, peer);
      const { stdout } = await lab.exec(peer.gateway.ns, [
        lab.nodeBinary, FUZZ_PEER, '--host', local.endpointHost, '--port', String(local.brokerPort),
        '--servername', local.endpointHost, '--cert', certs.certFile, '--key', certs.keyFile, '--ca', certs.caFile,
        '--peer-address', address(peer.clusterAddress), '--peer-service-cidr', peer.serviceCidr,
        '--local-address', address(local.clusterAddress), '--local-service-cidr', local.serviceCidr,
        '--seed', String(options.seed), '--frames', String(options.frames),
      ], { timeoutMs: 120_000 });
      const sentReport = JSON.parse(stdout.trim().split('\n').pop()!) as FuzzPeerReport;
      const problems: string[] = [];
      if (!sentReport.helloReceived || !sentReport.acked) problems.push(`the fuzzing peer did not finish: ${JSON.stringify(sentReport)}`);
      const after = await fetchBrokerMetrics(lab, local);
      const counted = {} as FuzzReport['counted'];
      for (const verdict of [...DROP_VERDICTS, ...MALFORMED_VERDICTS]) {
        counted[verdict] = metric(after, verdict) - metric(before, verdict);
        if (counted[verdict] !== sentReport.sent[verdict]) problems.push(`${verdict}: sent ${sentReport.sent[verdict]}, counted ${counted[verdict]}`);
      }
      const ringFullDrops = metric(after, 'ring-full') - metric(before, 'ring-full');
      // Passed packets reach the kernel through the TUN writer thread after the ack: wait for them (bounded).
      let capture = await captureCounts(lab, ns);
      for (let i = 0; i < 50 && capture[0]! + capture[1]! + capture[2]! + ringFullDrops < sentReport.sent.pass; i++) {
        await new Promise((r) => setTimeout(r, 100));
        capture = await captureCounts(lab, ns);
      }
      const passedAtTun = capture[0]! + capture[1]! + capture[2]!;
      const forbiddenPassed = capture[3]!;
      if (forbiddenPassed !== 0) problems.push(`${forbiddenPassed} forbidden packets left the TUN`);
      if (passedAtTun + ringFullDrops !== sentReport.sent.pass) problems.push(`pass: sent ${sentReport.sent.pass}, left the TUN ${passedAtTun}, ring-full ${ringFullDrops}`);
      if (!broker.running()) problems.push('the broker died');
      return {
        seed: options.seed, framesSent: sentReport.framesSent, sent: sentReport.sent, counted,
        passedAtTun, forbiddenPassed, ringFullDrops, ok: problems.length === 0, problems,
      };
    } finally {
      await broker.stop(5000);
    }
  } finally {
    await lab.destroy();
  }
}
