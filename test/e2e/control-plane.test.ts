// The broker and router as Kubernetes controllers on the lab: per cluster an API server
// (the project's test server), KubeLinks and the TLS Secret applied with the real kubectl,
// the broker with --kubeconfig (leader election, status, Secret), the router on node 2.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Lab } from '../../loadtest/lab/lab.js';
import { applyYaml as applyLabYaml } from '../helpers/lab-kubectl.js';
import { KubelinkKubernetesPath, BROKER_SECRET } from '../../loadtest/lab/kubelink-k8s-path.js';
import { LAB_KUBELINK_NAMESPACE } from '../../loadtest/lab/kubelink-files.js';
import { readLinkStates } from '../../loadtest/lab/kubelink-states.js';
import type { LabCluster } from '../../loadtest/lab/topology.js';
import { brokerMetric, issueCertificateFiles, labCa, rogueCertificateFiles, runFakePeer } from '../helpers/broker-probes.js';
import { kubernetesLabHooks } from '../helpers/kubernetes-lab.js';

describe('controllers against a Kubernetes API server on a two-cluster lab', () => {
  const lab = new Lab({ clusters: 2, staticRoutes: false });
  const k8s = new KubelinkKubernetesPath(lab, { workers: 2, readyTimeoutMs: 60_000 });
  const [c1, c2] = [lab.cluster(1), lab.cluster(2)];

  const linkState = async (cluster: LabCluster, name: string) => (await readLinkStates(lab, cluster.index)).find((r) => r.name === name);
  const routerRoutes = async (cluster: LabCluster) =>
    (await lab.exec(cluster.node2.ns, ['ip', 'route', 'show', 'proto', '212'])).stdout.split('\n').filter((l) => l.trim() !== '');
  const waitForState = (cluster: LabCluster, name: string, state: string, timeoutMs = 20_000) =>
    lab.retry(`${cluster.name}/${name} ${state}`, { timeoutMs, intervalMs: 300 }, async () => {
      const row = await linkState(cluster, name);
      assert.equal(row?.state, state, `state of ${cluster.name}/${name}: ${JSON.stringify(row)}`);
      return row!;
    });
  const applyYaml = (cluster: LabCluster, name: string, yaml: string) => applyLabYaml(lab, cluster, name, yaml);
  const kubeLinkYaml = (name: string, cidr: string, clusterAddress: string, endpoint: string) =>
    `apiVersion: kubelink.mandelsoft.org/v1alpha1\nkind: KubeLink\nmetadata:\n  name: ${name}\nspec:\n  cidr: ${cidr}\n  clusterAddress: ${clusterAddress}\n  endpoint: ${endpoint}\n`;

  kubernetesLabHooks(lab, k8s);

  test('kubectl apply of two KubeLinks brings both Up with the gateway in their status, and traffic crosses both ways', async () => {
    const there = await linkState(c1, c2.name);
    assert.equal(there?.state, 'Up');
    assert.equal(there?.gateway, c1.gateway.nodeIp);
    assert.equal((await linkState(c2, c1.name))?.state, 'Up');
    assert.equal((await lab.requestEcho(c1.pods.client2, c2.serviceIp)).cluster, c2.name);
    assert.equal((await lab.requestEcho(c2.pods.client2, c1.serviceIp)).cluster, c1.name);
  });

  test('the router on node 2 routes the remote service CIDR and the mesh via the gateway node', async () => {
    const routes = await routerRoutes(c1);
    assert.ok(routes.some((r) => r.startsWith(`${c2.serviceCidr} via ${c1.gateway.nodeIp}`)), routes.join('\n'));
    assert.ok(routes.some((r) => r.startsWith(`192.168.0.0/24 via ${c1.gateway.nodeIp}`)), routes.join('\n'));
  });

  test('an invalid KubeLink gets state Invalid with a message naming the problem while the valid one stays Up', async () => {
    // Schema-valid, but its cidr overlaps cluster 1's own service network.
    await applyYaml(c1, 'bad', kubeLinkYaml('overlap', c1.serviceCidr, '192.168.0.99/24', 'overlap.kubelink.lab:8088'));
    const row = await waitForState(c1, 'overlap', 'Invalid');
    assert.match(row.message, /spec\.cidr/);
    assert.match(row.message, /overlap/i);
    assert.equal((await linkState(c1, c2.name))?.state, 'Up');
    await lab.kubectl(c1.index, ['delete', 'klink', 'overlap']);
  });

  test('deleting a KubeLink closes its tunnel and removes the router routes; applying it again restores them', async () => {
    const manifest = await lab.kubectl(c1.index, ['get', 'klink', c2.name, '-o', 'yaml']);
    await lab.kubectl(c1.index, ['delete', 'klink', c2.name]);
    await lab.retry('route and tunnel gone', { timeoutMs: 20_000, intervalMs: 300 }, async () => {
      assert.ok(!(await routerRoutes(c1)).some((r) => r.startsWith(c2.serviceCidr)), 'router route removed');
      assert.equal(await brokerMetric(lab, c1, 'kubelink_tunnel_connections'), 0);
    });
    await applyYaml(c1, 'restore', manifest.stdout.replace(/\n  resourceVersion:.*\n/, '\n').replace(/\nstatus:[\s\S]*$/, '\n'));
    await waitForState(c1, c2.name, 'Up', 30_000);
    await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 20_000 });
    assert.ok((await routerRoutes(c1)).some((r) => r.startsWith(`${c2.serviceCidr} via ${c1.gateway.nodeIp}`)));
  });

  test('restarting the API server loses no change made while the broker reconnects', async () => {
    await k8s.restartApiServer(1);
    // Made at once, while the broker's watch is still backing off from the outage.
    await applyYaml(c1, 'after-restart', kubeLinkYaml('after-restart', '100.64.0.0/20', '192.168.0.98/24', 'after.kubelink.lab:8088'));
    const row = await waitForState(c1, 'after-restart', 'Invalid', 40_000);
    assert.match(row.message, /overlap/i);
    await lab.kubectl(c1.index, ['delete', 'klink', 'after-restart']);
    await waitForState(c1, c2.name, 'Up');
  });

  test('a rotated TLS Secret keeps the tunnel; new connections get the new certificate', async () => {
    const reconnects = await brokerMetric(lab, c1, 'kubelink_tunnel_reconnects_total', { link: c2.name });
    const files = await issueCertificateFiles(await labCa(k8s.certDir), c1.endpointHost, path.join(lab.workDir, 'rotated'), path.join(k8s.certDir, 'ca.crt'));
    const secret = await lab.kubectl(c1.index, [
      '-n', LAB_KUBELINK_NAMESPACE, 'create', 'secret', 'generic', BROKER_SECRET, '--type=kubernetes.io/tls', '--dry-run=client', '-o', 'yaml',
      `--from-file=tls.crt=${files.certFile}`, `--from-file=tls.key=${files.keyFile}`, `--from-file=ca.crt=${files.caFile}`,
    ]);
    await applyYaml(c1, 'secret', secret.stdout);
    const expected = new X509Certificate(await readFile(files.certFile)).fingerprint256;
    await lab.retry('new certificate served', { timeoutMs: 20_000, intervalMs: 500 }, async () => {
      const report = await runFakePeer(lab, c2, c1, await rogueCertificateFiles(lab, k8s.certDir));
      assert.equal(report.serverFingerprint, expected);
    });
    assert.equal(await brokerMetric(lab, c1, 'kubelink_tunnel_reconnects_total', { link: c2.name }), reconnects);
    assert.equal((await linkState(c1, c2.name))?.state, 'Up');
  });

  test('with two broker replicas one leads; killing the leader moves leadership and traffic recovers', async () => {
    const leader = k8s.broker(1)!;
    const standbyArgs = lab.kubelinkBrokerArgs(1, {
      workers: 1,
      kubeconfig: k8s.apiServer(1)!.files.kubeconfig,
      secret: BROKER_SECRET,
      httpPort: 8082,
    });
    const standby = await lab.spawn(c1.gateway.ns, standbyArgs, { logFile: path.join(lab.workDir, 'c1', 'broker-standby.log') });
    try {
      await lab.waitForListening(c1.gateway.ns, 8082);
      const readyz = (port: number) => lab.httpGet(c1.gateway.ns, `http://127.0.0.1:${port}/readyz`).then(() => true, () => false);
      assert.equal(await readyz(8082), false, 'the standby is not ready');
      assert.equal(await readyz(8080), true, 'the leader is ready');
      leader.kill('SIGKILL'); // no release: the standby must wait for the lease to expire
      await lab.retry('standby leads', { timeoutMs: 40_000, intervalMs: 500 }, async () => assert.equal(await readyz(8082), true));
      await lab.waitForEcho(c1.pods.client2, c2.serviceIp, c2.name, { timeoutMs: 30_000 });
      await lab.waitForEcho(c2.pods.client2, c1.serviceIp, c1.name, { timeoutMs: 30_000 });
      await waitForState(c1, c2.name, 'Up');
    } finally {
      await standby.stop(5000);
    }
  });
});
