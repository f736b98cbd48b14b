// The broker on the two-cluster lab: real kubelink processes in gateway namespaces, links
// from YAML files, certificates from a lab CA. Needs root, TUN and network namespaces.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { Lab } from '../../loadtest/lab/lab.js';
import type { LabProcess } from '../../loadtest/lab/lab-process.js';
import { INTERNET_INTERFACE, type LabCluster } from '../../loadtest/lab/topology.js';
import { brokerCertificateFiles } from '../../loadtest/lab/kubelink-files.js';
import { runIperf } from '../../loadtest/lab/iperf.js';
import { createCa, issueCertificate } from '../../src/main/certs/pki.js';
import { brokerMetric, issueCertificateFiles, labCa, rogueCertificateFiles, runFakePeer, type CertificateFiles } from '../helpers/broker-probes.js';
import { exposedMetricNames, monitoringMetricNames } from '../helpers/monitoring.js';

describe('broker on a two-cluster lab', () => {
  const lab = new Lab({ clusters: 2 });
  const certDir = path.join(lab.workDir, 'pki');
  const brokers = new Map<number, LabProcess>();

  async function startBroker(cluster: LabCluster, extraArgs: string[] = []): Promise<LabProcess> {
    const linksDir = path.join(lab.workDir, cluster.name, 'links');
    const argv = lab.kubelinkBrokerArgs(cluster.index, { workers: 2, linksDir, certDir, logLevel: 'debug', extraArgs });
    const proc = await lab.spawn(cluster.gateway.ns, argv, { logFile: path.join(lab.workDir, `${cluster.name}-broker-${Date.now()}.log`) });
    brokers.set(cluster.index, proc);
    return proc;
  }

  async function waitBothWays(): Promise<void> {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 30_000 });
    await lab.waitForEcho(c2.pods.client2, c1.serviceIp, c1.name, { timeoutMs: 30_000 });
  }

  const metric = (cluster: LabCluster, name: string, reason?: string, label = 'reason') =>
    brokerMetric(lab, cluster, name, reason === undefined ? {} : { [label]: reason });
  const fakePeer = (from: LabCluster, to: LabCluster, certs: CertificateFiles, packets: string[] = [], raw: string[] = []) => runFakePeer(lab, from, to, certs, packets, raw);
  const rogueFiles = () => rogueCertificateFiles(lab, certDir);

  before(async () => {
    await lab.create();
    await lab.writeCertificates(certDir);
    for (const cluster of lab.clusters) {
      await lab.writeLinks(cluster.index, path.join(lab.workDir, cluster.name, 'links'));
      await startBroker(cluster);
    }
    await waitBothWays();
  });

  after(async () => {
    await Promise.all([...brokers.values()].map((b) => b.stop(5000)));
    await lab.destroy();
  });

  test('a pod in cluster 1 gets the answer of the echo service IP of cluster 2, and the reverse', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const there = await lab.requestEcho(c1.pods.client1, c2.serviceIp);
    assert.equal(there.cluster, c2.name);
    // The request arrives SNATed to cluster 1's address in the mesh.
    assert.equal(there.client.replace(/^::ffff:/, ''), c1.clusterAddress.split('/')[0]);
    const back = await lab.requestEcho(c2.pods.client1, c1.serviceIp);
    assert.equal(back.cluster, c1.name);
  });

  test('the tunnels run TLS 1.3 with AES-128-GCM, the default cipher preference, both dialed and accepted', async () => {
    for (const broker of brokers.values()) {
      const ups = (await readFile(broker.logFile, 'utf8')).split('\n').filter((line) => line.includes('"tunnel up"'));
      assert.ok(ups.length > 0, `no "tunnel up" in ${broker.logFile}`);
      for (const line of ups) assert.match(line, /"cipher":"TLSv1\.3 TLS_AES_128_GCM_SHA256"/);
    }
  });

  test('an iperf3 TCP run of 10 s completes through the tunnel', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const result = await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: 10 });
    assert.ok(result.bitsPerSecond > 0, `iperf3 moved no data: ${JSON.stringify(result)}`);
  });

  test('with TUN offloads (the default) a 4-stream iperf3 run crosses the tunnel as TCP super-packets', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const readBefore = await metric(c1, 'kubelink_tun_rx_offload_packets_total');
    const writtenBefore = await metric(c2, 'kubelink_tun_tx_offload_packets_total');
    const result = await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: 3, streams: 4 });
    assert.ok(result.bitsPerSecond > 0, `iperf3 moved no data: ${JSON.stringify(result)}`);
    const read = (await metric(c1, 'kubelink_tun_rx_offload_packets_total')) - readBefore;
    const segments = await metric(c1, 'kubelink_tun_rx_offload_segments_total');
    assert.ok(read > 0, 'broker 1 read super-packets from its TUN');
    assert.ok(segments > read, 'each super-packet stands for several packets');
    assert.ok((await metric(c2, 'kubelink_tun_tx_offload_packets_total')) - writtenBefore > 0, 'broker 2 wrote super-packets to its TUN');
    assert.equal(await metric(c1, 'kubelink_tunnel_tx_software_segments_total'), 0, 'both peers announced gso: nothing cut in software');
    assert.equal(await metric(c2, 'kubelink_malformed_frames_total', 'bad-offload'), 0);
  });

  test('a broker with --tun-offload=false and one with offloads interoperate: super-packets are cut in software for it', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    await brokers.get(2)!.stop(5000);
    try {
      await startBroker(c2, ['--tun-offload=false']);
      await waitBothWays();
      const cutBefore = await metric(c1, 'kubelink_tunnel_tx_software_segments_total');
      const result = await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: 3, streams: 4 });
      assert.ok(result.bitsPerSecond > 0, `iperf3 moved no data: ${JSON.stringify(result)}`);
      const reverse = await runIperf(lab, c1.pods.client2, c2.serviceIp, { durationSec: 2, streams: 2, reverse: true });
      assert.ok(reverse.bitsPerSecond > 0, `iperf3 -R moved no data: ${JSON.stringify(reverse)}`);
      assert.ok((await metric(c1, 'kubelink_tunnel_tx_software_segments_total')) > cutBefore, 'broker 1 segmented in software');
      assert.equal(await metric(c2, 'kubelink_tun_rx_offload_packets_total'), 0, 'broker 2 has no offloads');
    } finally {
      await brokers.get(2)!.stop(5000);
      await startBroker(c2);
      await waitBothWays();
    }
  });

  test('metrics report traffic per link and direction, and the fill level of every shard ring', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    await lab.requestEcho(c1.pods.client1, c2.serviceIp);
    await lab.retry('per-link traffic reported (with the next keepalive)', { timeoutMs: 10_000, intervalMs: 500 }, async () => {
      for (const direction of ['tx', 'rx']) {
        assert.ok((await brokerMetric(lab, c1, 'kubelink_link_packets_total', { link: c2.name, direction })) > 0, `c1 ${direction} packets`);
        assert.ok((await brokerMetric(lab, c1, 'kubelink_link_bytes_total', { link: c2.name, direction })) > 0, `c1 ${direction} bytes`);
      }
    });
    const text = await lab.httpGet(c1.gateway.ns, 'http://127.0.0.1:8080/metrics');
    for (const shard of ['0', '1']) {
      for (const ring of ['to-tunnel']) assert.match(text, new RegExp(`kubelink_ring_used_ratio\\{shard="${shard}",ring="${ring}"\\} [0-9.e-]+`));
    }
  });

  test('every metric the alert rules and the dashboard of k8s/monitoring name is in the broker\'s /metrics', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const text = await lab.httpGet(c1.gateway.ns, 'http://127.0.0.1:8080/metrics');
    const exposed = exposedMetricNames(text);
    const named = monitoringMetricNames();
    assert.ok(named.length >= 10, `names found in the rules and dashboard: ${named.join(', ')}`);
    assert.deepEqual(named.filter((name) => !exposed.has(name)), [], 'named by k8s/monitoring but not exposed');
    // The two series added for the alerts carry real values.
    assert.equal(await brokerMetric(lab, c1, 'kubelink_link_up', { link: c2.name }), 1);
    const notAfter = new X509Certificate(await readFile(brokerCertificateFiles(certDir, c1).certFile, 'utf8')).validTo;
    assert.equal(await brokerMetric(lab, c1, 'kubelink_certificate_expiry_timestamp_seconds'), Date.parse(notAfter) / 1000);
    assert.match(text, /^kubelink_broker_leader\{identity="[^"]+"\} 1$/m);
  });

  test('a broker certificate signed by another CA is refused and counted', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const otherCa = await createCa({ commonName: 'not the lab CA', validDays: 1 });
    const files = await issueCertificateFiles(otherCa, c2.endpointHost, path.join(lab.workDir, 'other-ca'), brokerCertificateFiles(certDir, c2).caFile);
    const before = await metric(c1, 'kubelink_handshake_failures_total');
    const report = await fakePeer(c2, c1, files);
    assert.equal(report.helloReceived, false, 'the broker must not say hello to a peer it cannot verify');
    assert.equal(report.closedByPeer, true);
    await lab.retry('handshake failure counted', { timeoutMs: 5000 }, async () => {
      assert.ok((await metric(c1, 'kubelink_handshake_failures_total')) > before);
    });
  });

  test('a certificate of the right CA whose names match no link is refused with the reason logged', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const report = await fakePeer(c2, c1, await rogueFiles());
    assert.equal(report.tlsOk, true, 'TLS itself succeeds: the CA signed it');
    assert.equal(report.helloReceived, false);
    assert.equal(report.closedByPeer, true);
    await lab.retry('refusal logged', { timeoutMs: 5000 }, async () => {
      const log = await readFile(brokers.get(1)!.logFile, 'utf8');
      assert.match(log, /peer connection refused.*rogue\.kubelink\.lab.*match the endpoint host of no link/);
    });
  });

  test('simultaneous dials end with one tunnel per side', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    await lab.retry('one connection each', { timeoutMs: 10_000 }, async () => {
      assert.equal(await metric(c1, 'kubelink_tunnel_connections'), 1);
      assert.equal(await metric(c2, 'kubelink_tunnel_connections'), 1);
    });
  });

  test('rotated certificate files are used for new connections without dropping the tunnel', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const files = brokerCertificateFiles(certDir, c1);
    const reconnectsBefore = await metric(c1, 'kubelink_tunnel_reconnects_total', c2.name, 'link');
    const renewed = await issueCertificate(await labCa(certDir), { commonName: c1.endpointHost, dnsNames: [c1.endpointHost], validDays: 2 });
    // Replace key and certificate the way cert-manager and kubelet do: new files renamed in.
    await writeFile(files.keyFile + '.new', renewed.keyPem);
    await writeFile(files.certFile + '.new', renewed.certPem);
    await rename(files.keyFile + '.new', files.keyFile);
    await rename(files.certFile + '.new', files.certFile);
    const expected = new X509Certificate(renewed.certPem).fingerprint256;
    await lab.retry('new connections see the renewed certificate', { timeoutMs: 15_000, intervalMs: 500 }, async () => {
      const report = await fakePeer(c2, c1, await rogueFiles());
      assert.equal(report.serverFingerprint, expected);
    });
    assert.equal(await metric(c1, 'kubelink_tunnel_reconnects_total', c2.name, 'link'), reconnectsBefore, 'the tunnel was not re-established');
    assert.equal((await lab.requestEcho(c1.pods.client1, c2.serviceIp)).cluster, c2.name);
  });

  test('deleting a link from the links directory closes its tunnel and removes its route; adding it back restores both', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const linksDir = path.join(lab.workDir, c1.name, 'links');
    const routes = async () => (await lab.exec(c1.gateway.ns, ['ip', 'route', 'show', 'proto', '211'])).stdout.split('\n');
    const hasRoute = async () => (await routes()).some((line) => line.startsWith(`${c2.serviceCidr} dev kubelink`));
    assert.ok(await hasRoute());
    await rm(linksDir, { recursive: true });
    await mkdir(linksDir);
    await lab.retry('tunnel and route gone', { timeoutMs: 15_000, intervalMs: 300 }, async () => {
      assert.equal(await metric(c1, 'kubelink_tunnel_connections'), 0);
      assert.equal(await hasRoute(), false);
    });
    await lab.writeLinks(c1.index, linksDir);
    await waitBothWays();
    assert.ok(await hasRoute());
  });

  test('a peer that stops answering is detected by keepalives and the link recovers when it is back', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const broker2 = brokers.get(2)!;
    broker2.kill('SIGSTOP');
    try {
      await lab.retry('link reported down', { timeoutMs: 20_000, intervalMs: 500 }, async () => {
        assert.equal(await metric(c1, 'kubelink_link_up', c2.name, 'link'), 0);
      });
    } finally {
      broker2.kill('SIGCONT');
    }
    await waitBothWays();
    assert.equal(await metric(c1, 'kubelink_link_up', c2.name, 'link'), 1);
  });

  test("a peer cannot open connections to the gateway's own ports through the tunnel (here the broker's HTTP port); ping and service traffic pass", async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const c1Address = c1.clusterAddress.split('/')[0]!;
    // From cluster 2's gateway the mesh network is routed into its TUN: this request
    // leaves with cluster 2's cluster address as source, as any peer's would.
    const refused = await lab.httpGet(c2.gateway.ns, `http://${c1Address}:8080/healthz`).then(
      () => 'answered',
      (err: unknown) => String((err as Error).message),
    );
    assert.match(refused, /ECONNREFUSED/, 'the gateway resets a new connection from the tunnel at once');
    // ...while the broker's port answers locally, and ping and the service pass the tunnel.
    assert.match(await lab.httpGet(c1.gateway.ns, 'http://127.0.0.1:8080/healthz'), /ok/i);
    await lab.exec(c2.gateway.ns, ['ping', '-c', '1', '-W', '5', c1Address]);
    assert.equal((await lab.requestEcho(c2.pods.client2, c1.serviceIp)).cluster, c1.name);
    const guard = (await lab.exec(c1.gateway.ns, ['iptables', '-S', 'KUBELINK-IN-kubelink'])).stdout;
    assert.match(guard, /--ctstate RELATED,ESTABLISHED,DNAT -j RETURN/);
  });

  test('packets from a peer to unassigned addresses of the local service CIDR do not leave the gateway', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const unassigned = c1.serviceIp.replace(/\.10$/, '.99'); // no service (no DNAT rule) has it
    const comment = `kltest-unassigned-${process.pid}`;
    const counter = ['-d', unassigned, '-p', 'udp', '-m', 'comment', '--comment', comment];
    // Count in cluster 1's gateway what arrives from the tunnel and what leaves by any interface.
    await lab.exec(c1.gateway.ns, ['iptables', '-t', 'mangle', '-I', 'PREROUTING', '-i', 'kubelink', ...counter]);
    await lab.exec(c1.gateway.ns, ['iptables', '-t', 'mangle', '-I', 'POSTROUTING', ...counter]);
    // The lab's gateways have no default route; a real one has, and that is where such
    // packets leaked. Give cluster 1's gateway one towards an address nobody holds on the
    // lab's internet bridge: what takes it passes POSTROUTING and then dies unresolved.
    const hadDefault = (await lab.exec(c1.gateway.ns, ['ip', 'route', 'show', 'default'])).stdout.trim() !== '';
    if (!hadDefault) await lab.exec(c1.gateway.ns, ['ip', 'route', 'add', 'default', 'via', '172.31.0.254', 'dev', INTERNET_INTERFACE]);
    const count = async (chain: string) => {
      const listing = (await lab.exec(c1.gateway.ns, ['iptables', '-t', 'mangle', '-L', chain, '-v', '-x', '-n'])).stdout;
      const line = listing.split('\n').find((l) => l.includes(comment));
      return Number(line?.trim().split(/\s+/)[0] ?? NaN);
    };
    try {
      // Five datagrams from cluster 2's gateway: routed into its tunnel, SNATed to its cluster address.
      const send = `const s=require('node:dgram').createSocket('udp4');let n=0;const go=()=>s.send('probe',9,'${unassigned}',()=>{if(++n<5)go();else s.close();});go();`;
      await lab.exec(c2.gateway.ns, [lab.nodeBinary, '-e', send]);
      await lab.retry('the datagrams arrive at cluster 1', { timeoutMs: 5000 }, async () => assert.equal(await count('PREROUTING'), 5));
      assert.equal(await count('POSTROUTING'), 0, 'none left the gateway (before: all five went out by the default route)');
      const route = (await lab.exec(c1.gateway.ns, ['ip', 'route', 'show', 'proto', '211'])).stdout;
      assert.match(route, new RegExp(`^unreachable ${c1.serviceCidr.replace(/\./g, '\\.')}`, 'm'));
      assert.equal((await lab.requestEcho(c2.pods.client2, c1.serviceIp)).cluster, c1.name, 'the assigned service IP still answers');
    } finally {
      await lab.exec(c1.gateway.ns, ['iptables', '-t', 'mangle', '-D', 'PREROUTING', '-i', 'kubelink', ...counter]).catch(() => undefined);
      await lab.exec(c1.gateway.ns, ['iptables', '-t', 'mangle', '-D', 'POSTROUTING', ...counter]).catch(() => undefined);
      if (!hadDefault) await lab.exec(c1.gateway.ns, ['ip', 'route', 'del', 'default']).catch(() => undefined);
    }
  });

  test('spoofed packets and malformed frames from a peer are dropped and counted; the connection and the broker live on; a restarted peer broker restores traffic', async () => {
    const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
    const broker1 = brokers.get(1)!;
    const snatRules = async () => (await lab.exec(c2.gateway.ns, ['iptables', '-t', 'nat', '-S', 'POSTROUTING'])).stdout.split('\n').filter((l) => l.includes('kubelink:'));
    assert.equal((await snatRules()).length, 1, 'a running broker keeps one SNAT rule');
    // Take cluster 2's broker away (a clean shutdown removes its SNAT rule) and impersonate
    // it with its own certificate.
    await brokers.get(2)!.stop(5000);
    assert.deepEqual(await snatRules(), [], 'SNAT rule removed on clean shutdown');
    const spoofedBefore = await metric(c1, 'kubelink_dropped_packets_total', 'spoofed-source');
    const foreignBefore = await metric(c1, 'kubelink_dropped_packets_total', 'foreign-destination');
    const c1Service = c1.serviceIp;
    const malformed = (reason: string) => metric(c1, 'kubelink_malformed_frames_total', reason);
    const malformedBefore = { empty: await malformed('empty'), unknown: await malformed('unknown-type'), truncated: await malformed('truncated') };
    const report = await fakePeer(c2, c1, brokerCertificateFiles(certDir, c2), [
      `10.99.0.1>${c1Service}`, // source neither c2's cluster address nor in c2's service CIDR
      `${c2.clusterAddress.split('/')[0]}>10.250.0.3`, // destination outside c1's service CIDR
    ], [
      '0000', // a frame of length 0
      '0003200102', // payload of an unknown type (0x20)
      '00054500001c00', // an IPv4 header cut short
    ]);
    assert.equal(report.helloReceived, true, `fake peer was not accepted: ${JSON.stringify(report)}`);
    assert.equal(report.framesSent, 2);
    assert.equal(report.closedByPeer, false, 'a bad packet must not cost the connection');
    await lab.retry('drops counted', { timeoutMs: 5000 }, async () => {
      assert.equal(await metric(c1, 'kubelink_dropped_packets_total', 'spoofed-source'), spoofedBefore + 1);
      assert.equal(await metric(c1, 'kubelink_dropped_packets_total', 'foreign-destination'), foreignBefore + 1);
      assert.equal(await malformed('empty'), malformedBefore.empty + 1);
      assert.equal(await malformed('unknown-type'), malformedBefore.unknown + 1);
      assert.equal(await malformed('truncated'), malformedBefore.truncated + 1);
    });
    assert.ok(broker1.running(), 'broker 1 still runs');

    await startBroker(c2);
    await waitBothWays();
    assert.ok(broker1.running(), 'broker 1 was not restarted');
    assert.equal(brokers.get(1), broker1);
  });
});
