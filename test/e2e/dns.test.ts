// Names across the mesh on a two-cluster lab with real brokers, API servers and kubectl:
// each pod resolves through its cluster's DNS stand-in (service CIDR + 10; + 20 and domain
// c2.local in c2, which its broker learns from --cluster-dns-ip and --cluster-domain and
// announces in its hello), which
// forwards the mesh domain to its broker, which asks the other cluster's DNS through the
// tunnel. Queries are made with dig (bind9-dnsutils) and wget from the pods.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../../loadtest/lab/lab.js';
import { KubelinkKubernetesPath } from '../../loadtest/lab/kubelink-k8s-path.js';
import { BROKER_DNS_PORT, type LabCluster, type LabPod } from '../../loadtest/lab/topology.js';
import type { EchoReply } from '../../loadtest/lab/echo-server.js';
import { brokerMetric } from '../helpers/broker-probes.js';
import { kubernetesLabHooks } from '../helpers/kubernetes-lab.js';
import { applyYaml as applyLabYaml } from '../helpers/lab-kubectl.js';
import type { ProbeReport } from '../fixtures/dns-prober.js';
import { dig } from '../helpers/lab-dig.js';

const PROBER = fileURLToPath(new URL('../fixtures/dns-prober.js', import.meta.url));

describe('names across the mesh on a two-cluster lab', () => {
  const lab = new Lab({ clusters: 2, staticRoutes: false });
  const k8s = new KubelinkKubernetesPath(lab, { workers: 1, readyTimeoutMs: 60_000 });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
  const name = (to: LabCluster, service = 'echo') => `${service}.default.svc.${to.name}.kubelink`;
  const broker = (c: LabCluster) => `${c.gateway.nodeIp}:${BROKER_DNS_PORT}`;
  const podDig = (pod: LabPod, n: string, extra: string[] = []) => dig(lab, pod.ns, n, extra);
  const resolvesTo = (pod: LabPod, n: string, ip: string, timeoutMs = 20_000) =>
    lab.retry(`${n} -> ${ip} from ${pod.ns}`, { timeoutMs, intervalMs: 300 }, async () => {
      const r = await podDig(pod, n);
      assert.deepEqual(r.answers, [ip], r.output);
    });
  const statusBecomes = (pod: LabPod, n: string, status: string, timeoutMs = 20_000) =>
    lab.retry(`${n} ${status} from ${pod.ns}`, { timeoutMs, intervalMs: 300 }, async () => {
      const r = await podDig(pod, n);
      assert.equal(r.status, status, r.output);
      return r;
    });
  const applyYaml = (cluster: LabCluster, file: string, yaml: string) => applyLabYaml(lab, cluster, file, yaml);

  kubernetesLabHooks(lab, k8s);

  test("names resolve both ways, and a cluster's own name resolves locally", async () => {
    // c2's DNS is not at the conventional service CIDR + 10 and its domain is not
    // cluster.local (topology.ts): its names resolve in c1 only through what c2's broker
    // announces (--cluster-dns-ip, --cluster-domain), and in c2 itself only because its
    // broker asks that DNS for own names.
    assert.notEqual(c2.dnsIp, '100.64.16.10');
    assert.notEqual(c2.clusterDomain, 'cluster.local');
    await resolvesTo(c1.pods.client2, name(c2), c2.serviceIp);
    await resolvesTo(c2.pods.client1, name(c1), c1.serviceIp);
    await resolvesTo(c1.pods.client1, name(c1), c1.serviceIp);
    await resolvesTo(c2.pods.client1, name(c2), c2.serviceIp);
    const r = await podDig(c1.pods.client2, name(c2));
    assert.ok(r.output.includes(`${name(c2)}.`), 'the answer names the mesh name');
  });

  test('wget by name from a c1 pod is answered by the echo service of c2', async () => {
    const { stdout } = await lab.exec(c1.pods.client2.ns, ['wget', '-q', '-T', '5', '-O', '-', `http://${name(c2)}/`], { timeoutMs: 20_000 });
    assert.equal((JSON.parse(stdout) as EchoReply).cluster, c2.name);
  });

  test('NXDOMAIN for an unknown service and an unknown cluster; REFUSED outside the mesh domain', async () => {
    assert.equal((await podDig(c1.pods.client2, name(c2, 'nope'))).status, 'NXDOMAIN');
    const unknown = await podDig(c1.pods.client2, 'echo.default.svc.c9.kubelink');
    assert.equal(unknown.status, 'NXDOMAIN');
    const refused = await dig(lab, c1.node2.ns, 'www.example.com', [], broker(c1));
    assert.equal(refused.status, 'REFUSED', refused.output);
  });

  test('an answer too large for UDP comes truncated and the TCP retry gets it whole', async () => {
    const addresses = Array.from({ length: 60 }, (_, i) => `100.96.9.${i + 1}`);
    await applyYaml(c2, 'big', [
      'apiVersion: v1\nkind: Service\nmetadata: { name: big, namespace: default }\nspec: { clusterIP: None, ports: [{ port: 80 }] }\n---',
      'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: big-1, namespace: default, labels: { kubernetes.io/service-name: big } }',
      `addressType: IPv4\nendpoints:\n${addresses.map((a) => `  - addresses: ["${a}"]`).join('\n')}\n`,
    ].join('\n'));
    const udp = await dig(lab, c1.node2.ns, name(c2, 'big'), ['+ignore', '+noedns'], broker(c1));
    assert.ok(udp.flags.includes('tc'), udp.output);
    assert.equal(udp.answers.length, 0);
    const viaPod = await podDig(c1.pods.client2, name(c2, 'big'), ['+noedns']);
    assert.match(viaPod.output, /Truncated, retrying in TCP mode/);
    assert.deepEqual(viaPod.answers.sort(), [...addresses].sort());
  });

  test('while the peer broker is stopped its names get SERVFAIL within 2 s; they are back once it is Up', async () => {
    await resolvesTo(c1.pods.client2, name(c2), c2.serviceIp);
    await k8s.stopBroker(c2.index);
    try {
      for (const service of ['fresh1', 'fresh2']) {
        const r = await dig(lab, c1.node2.ns, name(c2, service), [], broker(c1));
        assert.equal(r.status, 'SERVFAIL', r.output);
        assert.ok(r.queryMs < 2000, `SERVFAIL after ${r.queryMs} ms`);
      }
    } finally {
      await k8s.startBrokerAgain(c2.index);
    }
    await resolvesTo(c1.pods.client2, name(c2, 'echo'), c2.serviceIp, 60_000);
  });

  test("a deleted KubeLink's names stop, and the KubeLink applied again while the brokers run resolves without a restart", async () => {
    const pidBefore = k8s.broker(c1.index)!.pid;
    await lab.kubectl(c1.index, ['delete', 'klink', c2.name]);
    await statusBecomes(c1.pods.client2, name(c2, 'alias-a'), 'NXDOMAIN');
    await lab.kubectl(c1.index, ['apply', '-f', path.join(lab.workDir, c1.name, 'kubelinks')]);
    await resolvesTo(c1.pods.client2, name(c2), c2.serviceIp, 60_000);
    assert.equal(k8s.broker(c1.index)!.pid, pidBefore, 'the same broker process');
  });

  test('spec.dns.omitDNSPropagation: true stops the names of that link, false brings them back', async () => {
    const patch = (omit: boolean) => lab.kubectl(c1.index, ['patch', 'klink', c2.name, '--type=merge', '-p', JSON.stringify({ spec: { dns: { omitDNSPropagation: omit } } })]);
    await patch(true);
    await statusBecomes(c1.pods.client2, name(c2), 'NXDOMAIN');
    await patch(false);
    await resolvesTo(c1.pods.client2, name(c2), c2.serviceIp);
  });

  test('malformed and oversized queries each get FORMERR (fragments nothing) and never disturb the broker', async () => {
    const rounds = 200;
    const { stdout } = await lab.exec(c1.node2.ns, [lab.nodeBinary, PROBER, '--server', broker(c1), '--mode', 'malformed', '--count', String(rounds)], { timeoutMs: 30_000 });
    const report = JSON.parse(stdout) as ProbeReport;
    assert.equal(report.sent, 3 * rounds);
    assert.deepEqual(report.byRcode, { FORMERR: 2 * rounds }, 'one FORMERR per loop and per long name, nothing for fragments');
    assert.equal(report.good, 'NOERROR', 'a good query afterwards is answered');
    assert.ok(k8s.broker(c1.index)!.running());
    assert.equal(await brokerMetric(lab, c1, 'kubelink_dns_queries_total', { result: 'FORMERR', cluster: '', transport: 'udp' }), 2 * rounds);
    assert.equal(await brokerMetric(lab, c1, 'kubelink_dns_queries_total', { result: 'dropped', cluster: '', transport: 'udp' }), rounds);
  });

  test('a burst of cache-missing queries is bounded: every query is answered or counted, nothing waits afterwards, the broker answers on', async () => {
    const count = 1500;
    const { stdout } = await lab.exec(c1.node2.ns, [lab.nodeBinary, PROBER, '--server', broker(c1), '--mode', 'burst', '--count', String(count), '--zone', `${c2.name}.kubelink`], { timeoutMs: 30_000 });
    const report = JSON.parse(stdout) as ProbeReport;
    assert.equal(report.sent, count);
    assert.ok(Object.keys(report.byRcode).every((r) => r === 'NXDOMAIN' || r === 'SERVFAIL'), JSON.stringify(report.byRcode));
    assert.ok(report.replies > 0, JSON.stringify(report));
    assert.equal(await brokerMetric(lab, c1, 'kubelink_dns_forwards_in_flight'), 0, 'nothing left waiting');
    const counted = (result: string) => brokerMetric(lab, c1, 'kubelink_dns_queries_total', { result, cluster: c2.name, transport: 'udp' });
    const overload = await brokerMetric(lab, c1, 'kubelink_dns_overload_total');
    // Every reply the prober got was counted by the broker; queries turned away at the bound are SERVFAILs.
    assert.ok((await counted('NXDOMAIN')) + (await counted('SERVFAIL')) >= report.replies, JSON.stringify(report));
    assert.ok((await counted('SERVFAIL')) >= overload, `overload ${overload}`);
    assert.ok(k8s.broker(c1.index)!.running());
    await resolvesTo(c1.pods.client2, name(c2), c2.serviceIp);
  });
});
