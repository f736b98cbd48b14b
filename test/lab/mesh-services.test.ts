// MeshServices, egress and ingress on a two-cluster lab with Kubernetes API servers: c2
// publishes its echo at a mesh address and on a port of its cluster address, c1 reaches
// them through its KubeLink's egress; ingress narrows what c2 may reach in c1; bad input
// shows in `kubectl get msvc/klink -o wide`; deleting everything leaves the gateways' nat
// tables and routes exactly as they were. Run under `flock /work/locks/lab.lock`.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../loadtest/lab/lab.js';
import { applyYaml as applyLabYaml } from '../helpers/lab-kubectl.js';
import { kubernetesLabHooks } from '../helpers/kubernetes-lab.js';
import { KubelinkKubernetesPath } from '../../loadtest/lab/kubelink-k8s-path.js';
import type { LabCluster } from '../../loadtest/lab/topology.js';
import { brokerMetric } from '../helpers/broker-probes.js';

const MESH_ADDRESS = '192.168.0.100';

describe('MeshServices, egress and ingress on a two-cluster lab', () => {
  const lab = new Lab({ clusters: 2, staticRoutes: false });
  const k8s = new KubelinkKubernetesPath(lab, { workers: 1, readyTimeoutMs: 60_000 });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];
  const snapshots = new Map<string, string>();

  const applyYaml = (cluster: LabCluster, name: string, yaml: string) => applyLabYaml(lab, cluster, name, yaml);
  /** The gateway's nat table and main routes, without counters and comments. */
  const gatewayState = async (cluster: LabCluster) => {
    const nat = (await lab.exec(cluster.gateway.ns, ['iptables-save', '-t', 'nat'])).stdout
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/, ''))
      .join('\n');
    const routes = (await lab.exec(cluster.gateway.ns, ['ip', 'route', 'show', 'table', 'main'])).stdout;
    return `${nat}\n---\n${routes}`;
  };
  const msvcRows = async (cluster: LabCluster) => {
    const out = await lab.kubectl(cluster.index, ['get', 'msvc', '-o', 'json']);
    return (JSON.parse(out.stdout) as { items: { metadata: { name: string }; status?: { state?: string; message?: string; address?: string } }[] }).items;
  };
  const waitForMsvc = (cluster: LabCluster, name: string, state: string, message?: RegExp) =>
    lab.retry(`${cluster.name} msvc ${name} ${state}`, { timeoutMs: 20_000, intervalMs: 300 }, async () => {
      const row = (await msvcRows(cluster)).find((r) => r.metadata.name === name);
      assert.equal(row?.status?.state, state, JSON.stringify(row?.status));
      if (message) assert.match(row!.status!.message ?? '', message);
      return row!;
    });
  const patchLink = (cluster: LabCluster, name: string, spec: Record<string, unknown>) =>
    lab.kubectl(cluster.index, ['patch', 'klink', name, '--type', 'merge', '-p', JSON.stringify({ spec })]);
  const echoSlice = (ready: boolean) =>
    [
      'apiVersion: discovery.k8s.io/v1',
      'kind: EndpointSlice',
      'metadata: {name: echo-1, namespace: default, labels: {kubernetes.io/service-name: echo}}',
      'addressType: IPv4',
      `endpoints: [{addresses: ["${c2.pods.echo.ip}"], conditions: {ready: ${ready}}}]`,
      'ports: [{name: http, protocol: TCP, port: 80}]',
      '',
    ].join('\n');
  const meshService = (name: string, spec: string) => `apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: MeshService\nmetadata: {name: ${name}, namespace: default}\nspec: ${spec}\n`;
  const echoFails = async (from: LabCluster, url: string) => {
    await assert.rejects(lab.httpGet(from.pods.client2.ns, url, 1500), `${url} must not answer`);
  };

  kubernetesLabHooks(lab, k8s);
  before(async () => {
    snapshots.set('c1', await gatewayState(c1));
    snapshots.set('c2', await gatewayState(c2));
  });

  test('c2 publishes echo at a mesh address and on port 8080 of its cluster address; c1 reaches both through egress', async () => {
    await applyYaml(c2, 'echo-service', 'apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: default}\nspec: {ports: [{name: http, protocol: TCP, port: 80}]}\n');
    await applyYaml(c2, 'echo-slice', echoSlice(true));
    await applyYaml(c2, 'msvc', meshService('echo', `{service: echo, meshAddress: ${MESH_ADDRESS}}`) + '---\n' + meshService('echo-port', '{service: echo, ports: [{port: 8080, targetPort: 80}]}'));
    const row = await waitForMsvc(c2, 'echo', 'Ok');
    assert.equal(row.status?.address, MESH_ADDRESS);
    assert.equal((await waitForMsvc(c2, 'echo-port', 'Ok')).status?.address, c2.clusterIp);

    await patchLink(c1, c2.name, { egress: [`${MESH_ADDRESS}/32`] });
    await lab.waitForEcho(c1.pods.client2, MESH_ADDRESS, c2.name, { timeoutMs: 20_000 });
    await lab.waitForEcho(c1.pods.client1, MESH_ADDRESS, c2.name, { timeoutMs: 10_000 });
    const portMode = JSON.parse(await lab.httpGet(c1.pods.client2.ns, `http://${c2.clusterIp}:8080/`)) as { cluster: string };
    assert.equal(portMode.cluster, c2.name);
    assert.equal((await lab.requestEcho(c1.pods.client2, c1.serviceIp)).cluster, c1.name, 'c1\'s own echo still answers locally');
    // Another port of the mesh address is not published: dropped in c2's shard.
    const denied = await brokerMetric(lab, c2, 'kubelink_dropped_packets_total', { reason: 'ingress-denied' });
    await echoFails(c1, `http://${MESH_ADDRESS}:8081/`);
    assert.ok((await brokerMetric(lab, c2, 'kubelink_dropped_packets_total', { reason: 'ingress-denied' })) > denied);
  });

  test('the mesh address follows the endpoints: none ready is Error and no answer, ready again answers', async () => {
    await applyYaml(c2, 'echo-slice', echoSlice(false));
    await waitForMsvc(c2, 'echo', 'Error', /no ready endpoint/);
    await lab.retry('no answer without endpoints', { timeoutMs: 10_000, intervalMs: 300 }, () => echoFails(c1, `http://${MESH_ADDRESS}/`));
    await applyYaml(c2, 'echo-slice', echoSlice(true));
    await waitForMsvc(c2, 'echo', 'Ok');
    await lab.waitForEcho(c1.pods.client2, MESH_ADDRESS, c2.name, { timeoutMs: 20_000 });
  });

  test('bad MeshServices and KubeLinks show why in kubectl get -o wide; none disturbs the working ones', async () => {
    await applyYaml(c2, 'bad', [
      meshService('echo-again', `{service: echo, meshAddress: ${MESH_ADDRESS}}`),
      meshService('missing', '{service: x, meshAddress: 192.168.0.101}'),
      meshService('badport', '{service: echo, meshAddress: 192.168.0.102, ports: [{port: 70000, protocol: SCTP}]}'),
    ].join('---\n'));
    await waitForMsvc(c2, 'echo-again', 'Invalid', /already published by MeshService default\/echo/);
    await waitForMsvc(c2, 'missing', 'Error', /^service default\/x not found$/);
    await waitForMsvc(c2, 'badport', 'Invalid', /spec\.ports\[0\]\.port 70000/);
    const wide = (await lab.kubectl(c2.index, ['get', 'msvc', '-o', 'wide'])).stdout;
    assert.match(wide, /service default\/x not found/);
    assert.match(wide, /already published by MeshService default\/echo/);

    await applyYaml(c2, 'x-service', 'apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: default}\nspec: {ports: [{name: http, protocol: TCP, port: 80}]}\n');
    await waitForMsvc(c2, 'missing', 'Error', /no ready endpoint/);

    await applyYaml(c1, 'overlap-link', `apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: KubeLink\nmetadata: {name: same}\nspec: {cidr: ${c1.serviceCidr}, clusterAddress: 192.168.0.97/24, endpoint: same.kubelink.lab:8088}\n`);
    await lab.retry('overlapping KubeLink Invalid', { timeoutMs: 20_000, intervalMs: 300 }, async () => {
      const klinks = (await lab.kubectl(c1.index, ['get', 'klink', '-o', 'wide'])).stdout;
      assert.match(klinks, /same .*Invalid.*overlaps the local service network.*MeshService/);
    });
    await lab.waitForEcho(c1.pods.client2, MESH_ADDRESS, c2.name, { timeoutMs: 10_000 });
    assert.equal((await lab.requestEcho(c1.pods.client2, c2.serviceIp)).cluster, c2.name);
    await lab.kubectl(c1.index, ['delete', 'klink', 'same']);
    await lab.kubectl(c2.index, ['delete', 'msvc', 'echo-again', 'missing', 'badport']);
    await lab.kubectl(c2.index, ['delete', 'svc', 'x']);

    // c2's own link to c1 routes the mesh address to c1: c2's MeshService yields, the link keeps working.
    await patchLink(c2, c1.name, { egress: [`${MESH_ADDRESS}/32`] });
    await waitForMsvc(c2, 'echo', 'Invalid', /^spec\.meshAddress "192\.168\.0\.100": is routed to the linked cluster c1 by its KubeLink's spec\.egress\[0\] 192\.168\.0\.100\/32$/);
    assert.match((await lab.kubectl(c2.index, ['get', 'msvc', '-o', 'wide'])).stdout, /echo .*Invalid.*routed to the linked cluster c1/);
    assert.equal((await lab.requestEcho(c2.pods.client2, c1.serviceIp)).cluster, c1.name, 'the link is not disturbed');
    await patchLink(c2, c1.name, { egress: null });
    await waitForMsvc(c2, 'echo', 'Ok');
    await lab.waitForEcho(c1.pods.client2, MESH_ADDRESS, c2.name, { timeoutMs: 20_000 });
  });

  test('ingress: c1 allows c2 only its echo service; other destinations are dropped and counted', async () => {
    await patchLink(c1, c2.name, { ingress: [`${c1.serviceIp}/32`] });
    const other = c1.serviceIp.replace(/\.\d+$/, '.20');
    const before = await brokerMetric(lab, c1, 'kubelink_dropped_packets_total', { reason: 'ingress-denied' });
    await lab.retry('ingress applied', { timeoutMs: 10_000, intervalMs: 300 }, async () => {
      await echoFails(c2, `http://${other}/`);
      assert.ok((await brokerMetric(lab, c1, 'kubelink_dropped_packets_total', { reason: 'ingress-denied' })) > before);
    });
    assert.equal((await lab.requestEcho(c2.pods.client2, c1.serviceIp)).cluster, c1.name, 'the allowed service answers');

    await patchLink(c1, c2.name, { ingress: [`!${c1.serviceIp}/32`] });
    await lab.retry('deny applied', { timeoutMs: 10_000, intervalMs: 300 }, () => echoFails(c2, `http://${c1.serviceIp}/`));
    assert.equal((await lab.requestEcho(c1.pods.client2, c2.serviceIp)).cluster, c2.name, 'c1 still reaches c2: replies are not ingress');
    await patchLink(c1, c2.name, { ingress: null });
    await lab.waitForEcho(c2.pods.client2, c1.serviceIp, c1.name, { timeoutMs: 10_000 });
  });

  test('deleting the MeshServices and the egress leaves both gateways\' nat tables and routes exactly as before', async () => {
    await lab.kubectl(c2.index, ['delete', 'msvc', 'echo', 'echo-port']);
    await patchLink(c1, c2.name, { egress: null });
    await lab.retry('c2 gateway as before', { timeoutMs: 20_000, intervalMs: 300 }, async () => assert.equal(await gatewayState(c2), snapshots.get('c2')));
    await lab.retry('c1 gateway as before', { timeoutMs: 20_000, intervalMs: 300 }, async () => assert.equal(await gatewayState(c1), snapshots.get('c1')));
    await echoFails(c1, `http://${MESH_ADDRESS}/`);
  });
});
