// `kubectl apply -k` of every example overlay (after `kubectl apply -k k8s/crds`, as the
// README says) against the test API server: everything is created with the overlay's
// values, the values file itself is not, and a second apply changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { startTestCluster } from '../apiserver/kubectl-harness.js';
import { CLUSTERS, K8S, overlayDir } from './kustomize.js';

for (const cluster of CLUSTERS) {
  test(`kubectl apply -k k8s/overlays/${cluster} creates the cluster's objects with its values; applying again changes nothing`, async () => {
    const c = await startTestCluster();
    try {
      await c.ok(['apply', '-k', path.join(K8S, 'crds')]);
      const first = await c.ok(['apply', '-k', overlayDir(cluster)]);
      assert.match(first, /deployment\.apps\/kubelink-broker created/);
      assert.match(first, /daemonset\.apps\/kubelink-router created/);
      assert.match(first, /kubelink\.kubelink\.mandelsoft\.org\/cluster\d created/);

      const values = (parse(readFileSync(path.join(overlayDir(cluster), 'values.yaml'), 'utf8')) as { data: Record<string, string> }).data;
      const config = JSON.parse(await c.ok(['-n', 'kube-system', 'get', 'configmap', 'kubelink-config', '-o', 'json'])) as { data: Record<string, string> };
      assert.deepEqual(config.data, {
        linkAddress: values.linkAddress, serviceCidr: values.serviceCidr, nodeCidr: values.nodeCidr, podCidr: values.podCidr,
        clusterName: values.clusterName, clusterDnsIP: values.clusterDnsIP, clusterDomain: values.clusterDomain,
      });
      assert.equal((await c.ok(['-n', 'kube-system', 'get', 'service', 'kubelink-dns', '-o', 'jsonpath={.spec.clusterIP}'])).trim(), values.dnsServiceIP);
      assert.match(await c.ok(['-n', 'kube-system', 'get', 'configmap', 'coredns-custom', '-o', 'jsonpath={.data.kubelink\\.server}']), new RegExp(`forward \\. ${values.dnsServiceIP.replace(/\./g, '\\.')}`));
      const service = JSON.parse(await c.ok(['-n', 'kube-system', 'get', 'service', 'kubelink-broker', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } };
      assert.equal(service.metadata.annotations['dns.gardener.cloud/dnsnames'], values.endpoint);
      assert.equal((await c.ok(['-n', 'kubelink-demo', 'get', 'service', 'echo', '-o', 'jsonpath={.spec.clusterIP}'])).trim(), values.echoClusterIP);
      const missing = await c.kubectl(['get', 'configmap', 'kubelink-values', '-A', '-o', 'name']);
      assert.equal(missing.stdout.trim(), '', 'values.yaml is local-config and never applied');

      const links = JSON.parse(await c.ok(['get', 'klink', '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> };
      assert.deepEqual(links.items.map((l) => l.metadata.name), [cluster === 'cluster1' ? 'cluster2' : 'cluster1']);

      const again = await c.ok(['apply', '-k', overlayDir(cluster)]);
      const lines = again.trim().split('\n');
      assert.ok(lines.length > 10 && lines.every((l) => l.endsWith(' unchanged')), again);
    } finally {
      await c.dispose();
    }
  });
}
