// Two clusters with the same service CIDR (echo at 100.64.0.100 in both) linked without
// cidr: c2 publishes its echo with a MeshService at 192.168.0.100 and on port 8080 of its
// cluster address; c1's KubeLink c2 routes 192.168.0.100/32 as egress. A pod of c1 gets
// c2's echo from the mesh address and its own from the ClusterIP. Run under
// `flock /work/locks/lab.lock`.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab } from '../../loadtest/lab/lab.js';
import { applyYaml as applyLabYaml } from '../helpers/lab-kubectl.js';
import { kubernetesLabHooks } from '../helpers/kubernetes-lab.js';
import { KubelinkKubernetesPath } from '../../loadtest/lab/kubelink-k8s-path.js';
import { readLinkStates } from '../../loadtest/lab/kubelink-states.js';
import type { LabCluster } from '../../loadtest/lab/topology.js';

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
});
