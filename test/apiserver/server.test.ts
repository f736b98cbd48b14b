// End-to-end: the real kubectl against the test API server.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixture, parseTable, startTestCluster, type TestCluster } from './kubectl-harness.js';

const CRD = 'kubelinks.kubelink.mandelsoft.org';

async function installKubeLinkCrd(c: TestCluster): Promise<void> {
  await c.ok(['apply', '-f', fixture('kubelink-crd.yaml')]);
  await c.ok(['wait', '--for=condition=Established', `crd/${CRD}`, '--timeout=20s']);
}

describe('kubectl with KubeLinks', () => {
  let c: TestCluster;
  before(async () => {
    c = await startTestCluster();
    await installKubeLinkCrd(c);
    await c.ok(['apply', '-f', fixture('kubelinks.yaml')]);
  });
  after(async () => c.dispose());

  test('get klink shows the printer columns CIDR, ADDRESS, ENDPOINT, GATEWAY, STATE for each KubeLink', async () => {
    const { header, rows } = parseTable(await c.ok(['get', 'klink']));
    assert.deepEqual(header, ['NAME', 'CIDR', 'ADDRESS', 'ENDPOINT', 'GATEWAY', 'STATE', 'AGE']);
    assert.deepEqual(
      rows.map((r) => r.slice(0, 6)),
      [
        ['cluster2', '100.64.16.0/20', '192.168.0.12/24', 'broker.c2.kubelink.lab:8088', '', ''],
        ['cluster3', '100.64.32.0/20', '192.168.0.13/24', 'broker.c3.kubelink.lab', '', ''],
      ],
    );
  });

  test('get klink -o wide adds the priority-1 MESSAGE column', async () => {
    const { header } = parseTable(await c.ok(['get', 'klink', '-o', 'wide']));
    assert.deepEqual(header, ['NAME', 'CIDR', 'ADDRESS', 'ENDPOINT', 'GATEWAY', 'STATE', 'MESSAGE', 'AGE']);
  });

  test('the full resource name, the singular and the kind resolve like the short name', async () => {
    for (const name of ['kubelinks', 'kubelink', 'KubeLink', `kubelinks.kubelink.mandelsoft.org`]) {
      assert.match(await c.ok(['get', name, '-o', 'name']), /kubelink.kubelink.mandelsoft.org\/cluster2/);
    }
  });

  test('re-applying unchanged manifests reports unchanged and keeps the resourceVersion', async () => {
    const before = await c.ok(['get', 'klink', 'cluster2', '-o', 'jsonpath={.metadata.resourceVersion}']);
    const out = await c.ok(['apply', '-f', fixture('kubelinks.yaml')]);
    assert.match(out, /cluster2 unchanged/);
    assert.equal(await c.ok(['get', 'klink', 'cluster2', '-o', 'jsonpath={.metadata.resourceVersion}']), before);
  });

  test('an invalid KubeLink is rejected with a 422 naming each bad field, and is not stored', async () => {
    const r = await c.kubectl(['apply', '-f', fixture('kubelink-invalid.yaml')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The KubeLink "broken" is invalid/);
    assert.match(r.stderr, /spec\.cidr: Invalid value: "100\.64\.300\.0\/20": spec\.cidr in body should match/);
    assert.match(r.stderr, /spec\.clusterAddress: Invalid value: "192\.168\.0\.14": spec\.clusterAddress in body should match/);
    assert.match(r.stderr, /spec\.endpoint: Required value/);
    const get = await c.kubectl(['get', 'klink', 'broken']);
    assert.match(get.stderr, /NotFound.*kubelinks.kubelink.mandelsoft.org "broken" not found/);
  });

  test('an unknown spec field is refused by kubectl apply (fieldValidation=Strict) and pruned when validation is off', async () => {
    const manifest = JSON.stringify({
      apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
      kind: 'KubeLink',
      metadata: { name: 'extra' },
      spec: { cidr: '100.64.48.0/20', clusterAddress: '192.168.0.15/24', endpoint: 'e.lab', color: 'blue' },
    });
    const strict = await c.kubectl(['apply', '-f', '-'], manifest);
    assert.notEqual(strict.code, 0);
    assert.match(strict.stderr, /unknown field "spec.color"/);
    await c.ok(['apply', '--validate=false', '-f', '-'], manifest);
    const stored = JSON.parse(await c.ok(['get', 'klink', 'extra', '-o', 'json']));
    assert.deepEqual(stored.spec, { cidr: '100.64.48.0/20', clusterAddress: '192.168.0.15/24', endpoint: 'e.lab' });
    await c.ok(['delete', 'klink', 'extra']);
  });

  test('patch --subresource=status changes status only, without bumping generation; a spec change bumps it', async () => {
    const get = async (): Promise<{ generation: number; spec: Record<string, string>; status?: Record<string, string> }> => {
      const o = JSON.parse(await c.ok(['get', 'klink', 'cluster3', '-o', 'json']));
      return { generation: o.metadata.generation, spec: o.spec, status: o.status };
    };
    const start = await get();
    await c.ok(['patch', 'klink', 'cluster3', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Down","message":"no route"},"spec":{"endpoint":"ignored.lab"}}']);
    const afterStatus = await get();
    assert.deepEqual(afterStatus.status, { state: 'Down', message: 'no route' });
    assert.equal(afterStatus.spec.endpoint, start.spec.endpoint);
    assert.equal(afterStatus.generation, start.generation);

    await c.ok(['patch', 'klink', 'cluster3', '--type=merge', '-p', '{"spec":{"endpoint":"broker.c3.kubelink.lab:8443"},"status":{"state":"Up"}}']);
    const afterSpec = await get();
    assert.equal(afterSpec.spec.endpoint, 'broker.c3.kubelink.lab:8443');
    assert.equal(afterSpec.status?.state, 'Down', 'a write to the main resource must not change status');
    assert.equal(afterSpec.generation, start.generation + 1);
  });

  test('a status value outside the enum is rejected', async () => {
    const r = await c.kubectl(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Sideways"}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /status\.state: Unsupported value: "Sideways": supported values: "Up", "Down", "Error", "Invalid"/);
  });

  test('the default (strategic) patch type is refused for a custom resource with 415, as by the real server', async () => {
    const r = await c.kubectl(['patch', 'klink', 'cluster2', '-p', '{"spec":{"endpoint":"x.lab"}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /UnsupportedMediaType|unknown format/);
  });

  test('get -w shows the listed KubeLinks, then a status update, then a new KubeLink', async () => {
    const watch = c.spawnKubectl(['get', 'klink', '-w']);
    try {
      await watch.waitFor(/^cluster2\s/);
      await c.ok(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Up","gateway":"10.250.0.2"}}']);
      await watch.waitFor(/^cluster2\s.*10\.250\.0\.2\s+Up/);
      await c.ok(['apply', '-f', '-'], JSON.stringify({
        apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
        kind: 'KubeLink',
        metadata: { name: 'cluster4' },
        spec: { cidr: '100.64.64.0/20', clusterAddress: '192.168.0.16/24', endpoint: 'broker.c4.kubelink.lab' },
      }));
      await watch.waitFor(/^cluster4\s+100\.64\.64\.0\/20/);
      assert.equal(watch.lines.filter((l) => l.startsWith('NAME')).length, 1, 'the header is printed once');
    } finally {
      watch.stop();
    }
  });

  test('get -w --output-watch-events reports the DELETED event of kubectl delete', async () => {
    await c.ok(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
      kind: 'KubeLink',
      metadata: { name: 'doomed' },
      spec: { cidr: '100.64.80.0/20', clusterAddress: '192.168.0.17/24', endpoint: 'doomed.lab' },
    }));
    const watch = c.spawnKubectl(['get', 'klink', '-w', '--output-watch-events', '--watch-only']);
    try {
      // --watch-only prints nothing until a change: relabel until one shows the watch is live.
      for (let i = 0; !watch.lines.some((l) => /^MODIFIED\s+doomed/.test(l)); i++) {
        assert.ok(i < 100, `the watch never reported a change: ${watch.stderr}`);
        await c.ok(['label', '--overwrite', 'klink', 'doomed', `round=${i}`]);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(await c.ok(['delete', 'klink', 'doomed']), /kubelink.kubelink.mandelsoft.org "doomed" deleted/);
      await watch.waitFor(/^DELETED\s+doomed/);
    } finally {
      watch.stop();
    }
    const r = await c.kubectl(['get', 'klink', 'doomed']);
    assert.match(r.stderr, /NotFound/);
  });

  test('get -o yaml and -o json show server-set metadata', async () => {
    const o = JSON.parse(await c.ok(['get', 'klink', 'cluster2', '-o', 'json']));
    assert.match(o.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(o.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(o.metadata.resourceVersion, /^\d+$/);
    assert.match(await c.ok(['get', 'klink', 'cluster2', '-o', 'yaml']), /^kind: KubeLink$/m);
  });

  test('label selectors filter kubectl get', async () => {
    await c.ok(['label', 'klink', 'cluster2', 'tier=gold']);
    assert.equal((await c.ok(['get', 'klink', '-l', 'tier=gold', '-o', 'name'])).trim(), 'kubelink.kubelink.mandelsoft.org/cluster2');
    assert.doesNotMatch(await c.ok(['get', 'klink', '-l', 'tier!=gold', '-o', 'name']), /cluster2/);
    assert.match(await c.ok(['get', 'klink', '-l', '!tier', '-o', 'name']), /cluster3/);
  });
});

describe('kubectl with built-in resources', () => {
  let c: TestCluster;
  before(async () => {
    c = await startTestCluster();
  });
  after(async () => c.dispose());

  test('apply of namespace, RBAC, service account, secret, service, deployment and daemonset creates them all', async () => {
    const out = await c.ok(['apply', '-f', fixture('workloads.yaml')]);
    for (const created of ['namespace/kubelink', 'serviceaccount/kubelink', 'clusterrole.rbac.authorization.k8s.io/kubelink', 'clusterrolebinding.rbac.authorization.k8s.io/kubelink', 'role.rbac.authorization.k8s.io/kubelink', 'rolebinding.rbac.authorization.k8s.io/kubelink', 'secret/kubelink-tls', 'configmap/kubelink', 'service/kubelink-broker', 'deployment.apps/kubelink-broker', 'daemonset.apps/kubelink-router']) {
      assert.match(out, new RegExp(`${created.replace(/\./g, '\\.')} created`));
    }
    const secret = JSON.parse(await c.ok(['get', 'secret', 'kubelink-tls', '-n', 'kubelink', '-o', 'json']));
    assert.equal(Buffer.from(secret.data['ca.crt'], 'base64').toString(), 'CA');
    assert.equal(secret.stringData, undefined);
    const svc = JSON.parse(await c.ok(['get', 'svc', 'kubelink-broker', '-n', 'kubelink', '-o', 'json']));
    assert.match(svc.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
  });

  test('re-apply with a changed container list merges by name: a removed container goes, env entries merge', async () => {
    const deployment = (args: string[], containers: object[]): string =>
      JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'merge-test', namespace: 'default' },
        spec: {
          selector: { matchLabels: { app: 'm' } },
          template: { metadata: { labels: { app: 'm' } }, spec: { containers: [{ name: 'main', image: 'main:1', args, env: [{ name: 'A', value: '1' }] }, ...containers] } },
        },
      });
    await c.ok(['apply', '-f', '-'], deployment(['--workers=2'], [{ name: 'sidecar', image: 'side:1' }]));
    const g1 = JSON.parse(await c.ok(['get', 'deploy', 'merge-test', '-o', 'json'])).metadata.generation;
    await c.ok(['apply', '-f', '-'], deployment(['--workers=4'], []));
    const d = JSON.parse(await c.ok(['get', 'deploy', 'merge-test', '-o', 'json']));
    assert.deepEqual(d.spec.template.spec.containers.map((x: { name: string }) => x.name), ['main']);
    assert.deepEqual(d.spec.template.spec.containers[0].args, ['--workers=4']);
    assert.equal(d.metadata.generation, g1 + 1);
  });

  test('kubectl get shows a NAME/AGE table for built-ins and ns-qualified rows with -A', async () => {
    const { header } = parseTable(await c.ok(['get', 'configmaps', '-n', 'kubelink']));
    assert.deepEqual(header, ['NAME', 'AGE']);
    const all = parseTable(await c.ok(['get', 'sa', '-A']));
    assert.deepEqual(all.header, ['NAMESPACE', 'NAME', 'AGE']);
    assert.deepEqual(all.rows.map((r) => r.slice(0, 2)), [['kubelink', 'kubelink']]);
  });

  test('creating into a missing namespace fails with NotFound', async () => {
    const r = await c.kubectl(['create', 'configmap', 'x', '-n', 'nowhere']);
    assert.match(r.stderr, /namespaces "nowhere" not found/);
  });

  test('deleting a namespace deletes what is in it', async () => {
    await c.ok(['create', 'namespace', 'scratch']);
    await c.ok(['create', 'configmap', 'x', '-n', 'scratch', '--from-literal=a=b']);
    await c.ok(['delete', 'namespace', 'scratch']);
    const r = await c.kubectl(['get', 'configmap', 'x', '-n', 'scratch']);
    assert.match(r.stderr, /NotFound/);
  });

  test('kubectl create generator commands (protobuf bodies) create namespaces, configmaps, secrets, service accounts and RBAC', async () => {
    await c.ok(['create', 'namespace', 'generated']);
    await c.ok(['create', 'configmap', 'cm', '-n', 'generated', '--from-literal=a=b']);
    await c.ok(['create', 'secret', 'generic', 's', '-n', 'generated', '--from-literal=k=v', '--type=example.com/kind']);
    await c.ok(['create', 'serviceaccount', 'sa', '-n', 'generated']);
    await c.ok(['create', 'role', 'r', '-n', 'generated', '--verb=get,list', '--resource=secrets']);
    await c.ok(['create', 'rolebinding', 'rb', '-n', 'generated', '--role=r', '--serviceaccount=generated:sa']);
    await c.ok(['create', 'clusterrole', 'cr', '--verb=get', '--resource=namespaces']);
    await c.ok(['create', 'clusterrolebinding', 'crb', '--clusterrole=cr', '--group=admins']);
    assert.equal(await c.ok(['get', 'cm', 'cm', '-n', 'generated', '-o', 'jsonpath={.data.a}']), 'b');
    const secret = JSON.parse(await c.ok(['get', 'secret', 's', '-n', 'generated', '-o', 'json']));
    assert.equal(secret.type, 'example.com/kind');
    assert.equal(Buffer.from(secret.data.k, 'base64').toString(), 'v');
    const role = JSON.parse(await c.ok(['get', 'role', 'r', '-n', 'generated', '-o', 'json']));
    assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }]);
    const binding = JSON.parse(await c.ok(['get', 'rolebinding', 'rb', '-n', 'generated', '-o', 'json']));
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'sa', namespace: 'generated' }]);
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'r' });
  });

  test('a protobuf body of a kind the server cannot decode is refused with 415 and a hint', async () => {
    const r = await c.kubectl(['create', 'deployment', 'd', '--image=busybox']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /send the object as application\/json/);
  });

  test('applying a kind whose CRD is not installed fails like on a real cluster: no matches for kind', async () => {
    const r = await c.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'cert.gardener.cloud/v1alpha1', kind: 'Certificate', metadata: { name: 'x', namespace: 'default' }, spec: {} }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no matches for kind "Certificate" in version "cert.gardener.cloud\/v1alpha1"/);
  });

  test('kubectl version reports the server version', async () => {
    assert.match(await c.ok(['version']), /Server Version: v1\.32\.0\+kubelink-test-apiserver/);
  });
});

describe('kubectl and CRD lifecycle', () => {
  test('deleting the CRD deletes its KubeLinks and removes the resource from discovery', async () => {
    const c = await startTestCluster();
    try {
      await installKubeLinkCrd(c);
      await c.ok(['apply', '-f', fixture('kubelinks.yaml')]);
      assert.match(await c.ok(['api-resources', '--api-group=kubelink.mandelsoft.org']), /kubelinks\s+klink\s+kubelink.mandelsoft.org\/v1alpha1\s+false\s+KubeLink/);
      await c.ok(['delete', 'crd', CRD]);
      const r = await c.kubectl(['get', 'klink']);
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(await c.ok(['api-resources']), /kubelink/);
      await installKubeLinkCrd(c);
      assert.match(await c.kubectl(['get', 'klink']).then((x) => x.stderr), /No resources found/);
    } finally {
      await c.dispose();
    }
  });
});

describe('kubectl and restarts', () => {
  test('a server restarted with --data-file keeps objects, uids and resourceVersions, and continues the counter', async () => {
    const c1 = await startTestCluster();
    const dataFile = join(c1.dir, 'data.json');
    await c1.stop();
    const a = await startTestCluster({ dataFile }, c1.dir);
    await installKubeLinkCrd(a);
    await a.ok(['apply', '-f', fixture('kubelinks.yaml')]);
    await a.ok(['patch', 'klink', 'cluster2', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Up"}}']);
    const before = JSON.parse(await a.ok(['get', 'klink', '-o', 'json']));
    const rvBefore = a.server.resourceVersion();
    await a.stop();

    const b = await startTestCluster({ dataFile }, c1.dir);
    try {
      const after = JSON.parse(await b.ok(['get', 'klink', '-o', 'json']));
      assert.deepEqual(after.items, before.items);
      assert.equal(b.server.resourceVersion(), rvBefore);
      await b.ok(['patch', 'klink', 'cluster3', '--subresource=status', '--type=merge', '-p', '{"status":{"state":"Down"}}']);
      const rv = Number(await b.ok(['get', 'klink', 'cluster3', '-o', 'jsonpath={.metadata.resourceVersion}']));
      assert.equal(rv, rvBefore + 1);
    } finally {
      await b.dispose();
    }
  });
});
