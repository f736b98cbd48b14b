// Two clusters with the same service CIDR (echo at 100.64.0.100 in both) linked without
// cidr: c2 publishes its echo with a MeshService at 192.168.0.100 and on port 8080 of its
// cluster address; c1's KubeLink c2 routes 192.168.0.100/32 as egress. A pod of c1 gets
// c2's echo from the mesh address and its own from the ClusterIP, and by the MeshService's
// name (echo.default.msvc.c2.kubelink), which c1's broker asks of c2's broker through the
// tunnel. Run under `flock /work/locks/lab.lock`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../loadtest/lab/lab.js';
import { applyYaml as applyLabYaml } from '../helpers/lab-kubectl.js';
import { kubernetesLabHooks } from '../helpers/kubernetes-lab.js';
import { KubelinkKubernetesPath } from '../../loadtest/lab/kubelink-k8s-path.js';
import { readLinkStates } from '../../loadtest/lab/kubelink-states.js';
import { BROKER_DNS_PORT, type LabCluster } from '../../loadtest/lab/topology.js';
import type { EchoReply } from '../../loadtest/lab/echo-server.js';
import { dig } from '../helpers/lab-dig.js';

describe('two clusters with the same service CIDR, linked through a MeshService', () => {
  const lab = new Lab({ clusters: 2, staticRoutes: false, sameServiceCidr: true });
  const k8s = new KubelinkKubernetesPath(lab, { workers: 1, readyTimeoutMs: 60_000 });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];

  const applyYaml = (cluster: LabCluster, name: string, yaml: string) => applyLabYaml(lab, cluster, name, yaml);

  kubernetesLabHooks(lab, k8s);

  test('the links are Up without cidr, and each echo answers at the same ClusterIP in its own cluster', async () => {
    assert.equal(c1.serviceIp, c2.serviceIp);
    assert.equal(c1.serviceCidr, c2.serviceCidr);
    for (const [cluster, peer] of [[c1, c2], [c2, c1]] as const) {
      const row = (await readLinkStates(lab, cluster.index)).find((r) => r.name === peer.name);
      assert.equal(row?.state, 'Up');
      assert.equal(row?.cidr, '');
    }
    assert.equal((await lab.requestEcho(c1.pods.client2, c1.serviceIp)).cluster, c1.name);
    assert.equal((await lab.requestEcho(c2.pods.client2, c2.serviceIp)).cluster, c2.name);
  });

  test('wget http://192.168.0.100/ from a c1 pod answers from c2 while c1\'s echo at the same ClusterIP answers locally; port mode on 192.168.0.12:8080', async () => {
    await applyYaml(c2, 'echo', [
      'apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\nspec: {ports: [{name: http, protocol: TCP, port: 80}]}',
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: echo-1, namespace: default, labels: {kubernetes.io/service-name: echo}}\naddressType: IPv4\nendpoints: [{addresses: ["${c2.pods.echo.ip}"], conditions: {ready: true}}]\nports: [{name: http, protocol: TCP, port: 80}]`,
      'apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: MeshService\nmetadata: {name: echo, namespace: default}\nspec: {service: echo, meshAddress: 192.168.0.100, ports: [{port: 80}]}',
      'apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: MeshService\nmetadata: {name: echo-port, namespace: default}\nspec: {service: echo, ports: [{port: 8080, targetPort: 80}]}',
      '',
    ].join('\n---\n'));
    await lab.kubectl(c1.index, ['patch', 'klink', c2.name, '--type', 'merge', '-p', JSON.stringify({ spec: { egress: ['192.168.0.100/32'] } })]);

    await lab.waitForEcho(c1.pods.client2, '192.168.0.100', c2.name, { timeoutMs: 30_000 });
    assert.equal((await lab.requestEcho(c1.pods.client1, '192.168.0.100')).cluster, c2.name, 'from the pod on the gateway node too');
    assert.equal((await lab.requestEcho(c1.pods.client2, c1.serviceIp)).cluster, c1.name, 'the same ClusterIP stays local');
    const portMode = JSON.parse(await lab.httpGet(c1.pods.client2.ns, `http://${c2.clusterIp}:8080/`)) as { cluster: string };
    assert.equal(portMode.cluster, c2.name);
    const wide = (await lab.kubectl(c2.index, ['get', 'msvc', '-o', 'wide'])).stdout;
    assert.match(wide, /echo .*192\.168\.0\.100 .*Ok/);
    assert.match(wide, /echo-port .*192\.168\.0\.12 .*Ok/);
  });

  // Needs the MeshServices and the egress of the test before.
  test("a c1 pod resolves c2's MeshServices by name (through c2's broker, over the tunnel) and reaches them through the answer; SRV gives the port-mode port", async () => {
    const msvcName = 'echo.default.msvc.c2.kubelink';
    const resolved = await lab.retry(`${msvcName} from ${c1.pods.client2.ns}`, { timeoutMs: 30_000, intervalMs: 300 }, async () => {
      const r = await dig(lab, c1.pods.client2.ns, msvcName);
      assert.deepEqual(r.answers, ['192.168.0.100'], r.output);
      return r;
    });
    assert.ok(resolved.flags.includes('aa'), resolved.output);
    assert.notEqual(resolved.answers[0], c2.serviceIp, 'the mesh address, not the ClusterIP c1 has too');
    const { stdout } = await lab.exec(c1.pods.client2.ns, ['wget', '-q', '-T', '5', '-O', '-', `http://${msvcName}/`], { timeoutMs: 20_000 });
    assert.equal((JSON.parse(stdout) as EchoReply).cluster, c2.name, 'wget by the name reaches c2');

    const srv = await dig(lab, c1.pods.client2.ns, '_http._tcp.echo-port.default.msvc.c2.kubelink', [], undefined, 'SRV');
    assert.deepEqual(srv.answers, ['0 100 8080 echo-port.default.msvc.c2.kubelink.'], srv.output);
    const target = await dig(lab, c1.pods.client2.ns, 'echo-port.default.msvc.c2.kubelink');
    assert.deepEqual(target.answers, [c2.clusterIp], 'port mode: the cluster address');
    const portMode = await lab.exec(c1.pods.client2.ns, ['wget', '-q', '-T', '5', '-O', '-', 'http://echo-port.default.msvc.c2.kubelink:8080/'], { timeoutMs: 20_000 });
    assert.equal((JSON.parse(portMode.stdout) as EchoReply).cluster, c2.name);

    assert.equal((await dig(lab, c1.pods.client2.ns, 'nope.default.msvc.c2.kubelink')).status, 'NXDOMAIN');
    assert.equal((await dig(lab, c1.pods.client2.ns, 'echo.default.msvc.c9.kubelink')).status, 'NXDOMAIN');
    // What let c1's broker ask: c2's gateway guard opens the DNS port on its cluster address, nothing more.
    const guard = (await lab.exec(c2.gateway.ns, ['iptables', '-S', 'KUBELINK-IN-kubelink'])).stdout;
    assert.deepEqual(guard.split('\n').filter((l) => l.includes('--dport')), [
      `-A KUBELINK-IN-kubelink -d ${c2.clusterIp}/32 -p udp -m udp --dport ${BROKER_DNS_PORT} -j RETURN`,
      `-A KUBELINK-IN-kubelink -d ${c2.clusterIp}/32 -p tcp -m tcp --dport ${BROKER_DNS_PORT} -j RETURN`,
    ]);
    // From c1's gateway (source: its cluster address, as c1's broker asks) c2's broker
    // answers its MeshService names and refuses to forward anything else.
    const c2Broker = `${c2.clusterIp}:${BROKER_DNS_PORT}`;
    assert.deepEqual((await dig(lab, c1.gateway.ns, 'echo.default.msvc.kubelink', ['-b', c1.clusterIp], c2Broker)).answers, ['192.168.0.100']);
    assert.equal((await dig(lab, c1.gateway.ns, 'echo.default.svc.c2.kubelink', ['-b', c1.clusterIp], c2Broker)).status, 'REFUSED');
    // c2's own pods get the same name answered by their own broker.
    assert.deepEqual((await dig(lab, c2.pods.client2.ns, msvcName)).answers, ['192.168.0.100']);
  });

  test("while c2's broker is stopped its MeshService names get SERVFAIL within 2 s from c1's broker; they resolve again once it is back", async () => {
    const c1Broker = `${c1.gateway.nodeIp}:${BROKER_DNS_PORT}`;
    await k8s.stopBroker(c2.index);
    try {
      // Once c1 has seen the link go Down it answers at once, without asking anyone.
      await lab.retry('c1 sees the link to c2 not Up', { timeoutMs: 30_000, intervalMs: 300 }, async () => {
        const row = (await readLinkStates(lab, c1.index)).find((r) => r.name === c2.name);
        assert.notEqual(row?.state, 'Up');
      });
      // Names not asked before: nothing cached.
      for (const name of ['fresh1.default.msvc.c2.kubelink', 'fresh2.default.msvc.c2.kubelink']) {
        const r = await dig(lab, c1.node2.ns, name, [], c1Broker);
        assert.equal(r.status, 'SERVFAIL', r.output);
        assert.ok(r.queryMs < 2000, `SERVFAIL after ${r.queryMs} ms`);
      }
    } finally {
      await k8s.startBrokerAgain(c2.index);
    }
    await lab.retry('echo.default.msvc.c2.kubelink back', { timeoutMs: 60_000, intervalMs: 300 }, async () => {
      const r = await dig(lab, c1.pods.client2.ns, 'echo.default.msvc.c2.kubelink');
      assert.deepEqual(r.answers, ['192.168.0.100'], r.output);
    });
  });

  test("c2's broker on another --dns-port announces it in the hello and c1's broker asks there; with --dns-port 0 c2's MeshService names are NXDOMAIN at once", async () => {
    const c1Broker = `${c1.gateway.nodeIp}:${BROKER_DNS_PORT}`;
    const otherPort = BROKER_DNS_PORT + 1;
    const restartC2 = async (extraArgs: string[]) => {
      await k8s.stopBroker(c2.index);
      await k8s.startBrokerAgain(c2.index, extraArgs);
    };
    try {
      await restartC2(['--dns-port', String(otherPort)]);
      // A name and type not asked before, so the answer comes from c2's broker at otherPort.
      const srv = await lab.retry(`SRV echo.default.msvc.c2.kubelink via c2's port ${otherPort}`, { timeoutMs: 60_000, intervalMs: 300 }, async () => {
        const r = await dig(lab, c1.pods.client2.ns, 'echo.default.msvc.c2.kubelink', [], undefined, 'SRV');
        assert.deepEqual(r.answers, ['0 100 80 echo.default.msvc.c2.kubelink.'], r.output);
        return r;
      });
      assert.ok(srv.flags.includes('aa'), srv.output);
      const guard = (await lab.exec(c2.gateway.ns, ['iptables', '-S', 'KUBELINK-IN-kubelink'])).stdout;
      assert.deepEqual(guard.split('\n').filter((l) => l.includes('--dport')).map((l) => /--dport (\d+)/.exec(l)![1]), [String(otherPort), String(otherPort)], guard);

      await restartC2(['--dns-port', '0']);
      // Until c1 has c2's new hello the link is not Up (SERVFAIL at once) or the old, now
      // closed port is asked (SERVFAIL after the upstream timeout); after it: NXDOMAIN
      // without asking, which only the announced 0 gives.
      const nx = await lab.retry("c1 answers NXDOMAIN for c2's names after its hello with port 0", { timeoutMs: 60_000, intervalMs: 300 }, async () => {
        const r = await dig(lab, c1.node2.ns, `fresh-${Date.now()}.default.msvc.c2.kubelink`, [], c1Broker);
        assert.equal(r.status, 'NXDOMAIN', r.output);
        return r;
      });
      assert.ok(nx.records.some(([, type]) => type === 'SOA'), 'with the mesh SOA for negative caching');
    } finally {
      await restartC2([]);
    }
    await lab.retry('echo.default.msvc.c2.kubelink back on the default port', { timeoutMs: 60_000, intervalMs: 300 }, async () => {
      const r = await dig(lab, c1.pods.client2.ns, 'echo.default.msvc.c2.kubelink');
      assert.deepEqual(r.answers, ['192.168.0.100'], r.output);
    });
  });
});
