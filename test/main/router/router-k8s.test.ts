// The router fed by the Kubernetes API (the test API server) with the project's real
// manifests applied by kubectl; routes go into a network namespace standing in for a node.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../../../src/main/flags.js';
import { GatewayNet, ROUTER_ROUTE_PROTOCOL } from '../../../src/main/net/gateway-net.js';
import { silentLogger } from '../../../src/shared/log.js';
import { Router } from '../../../src/main/router/router.js';
import { startTestCluster, type TestCluster } from '../../apiserver/kubectl-harness.js';
import { createNodeNamespace, waitFor, type NodeNamespace } from '../../helpers/node-namespace.js';

/** k8s/ of the repository, from dist/test/main/router/. */
const K8S = fileURLToPath(new URL('../../../../k8s/', import.meta.url));

let cluster: TestCluster;
let node: NodeNamespace;

before(async () => {
  cluster = await startTestCluster();
  node = createNodeNamespace('rk', '10.250.0.3/24');
});

after(async () => {
  node?.remove();
  await cluster?.dispose();
});

const ours = () => node.routes(ROUTER_ROUTE_PROTOCOL);

test('the cluster1 overlay applies with kubectl -k, and the router follows the KubeLink status.gateway, its changes and its deletion', async () => {
  await cluster.ok(['apply', '-k', `${K8S}crds`]);
  await cluster.ok(['apply', '-k', `${K8S}overlays/cluster1`]);
  await cluster.ok(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Up","gateway":"10.250.0.2"}}']);

  const config = parseFlags(['--controllers=router', '--node-cidr=10.250.0.0/24', '--pod-cidr=100.96.0.0/11', '--link-address=192.168.0.11/24', '--server-port-http=0', `--kubeconfig=${cluster.server.kubeconfigPath}`], {});
  const router = new Router(config, silentLogger, { net: new GatewayNet({ netns: node.name }), reconcileIntervalMs: 500 });
  await router.start();
  try {
    await waitFor('routes via the gateway', () => ours().length === 2);
    assert.deepEqual(ours(), ['100.64.16.0/20 via 10.250.0.2 dev eth0', '192.168.0.0/24 via 10.250.0.2 dev eth0']);

    await cluster.ok(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"gateway":"10.250.0.4"}}']);
    await waitFor('routes via the new gateway', () => ours().length === 2 && ours().every((r) => r.includes('via 10.250.0.4')));

    await cluster.ok(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"gateway":"10.250.0.3"}}']);
    await waitFor('no routes once this node is the gateway', () => ours().length === 0);

    await cluster.ok(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"gateway":"10.250.0.2"}}']);
    await waitFor('routes back via the old gateway', () => ours().length === 2);
    await cluster.ok(['delete', 'klink', 'cluster2']);
    await waitFor('no routes after the KubeLink is deleted', () => ours().length === 0);
  } finally {
    await router.stop();
  }
});
