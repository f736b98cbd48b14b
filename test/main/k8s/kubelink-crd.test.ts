import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENDPOINT_PATTERN, INGRESS_ENTRY_PATTERN, IPV4_WITH_PREFIX_PATTERN, KUBELINK_CRD, KUBELINK_CRD_NAME, kubelinkCrdYaml } from '../../../src/main/k8s/kubelink-crd.js';
import { containsDesired, ensureCrd } from '../../../src/main/k8s/ensure-crd.js';
import { apiStatusCode } from '../../../src/main/k8s/api-error.js';
import { silentLogger } from '../../../src/shared/log.js';
import { createLink, kubeLink, startEnv } from './api-server-env.js';
import type { ApiServerEnv } from './api-server-env.js';

// dist-<name>/test/main/k8s/ -> repository root
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

test('k8s/crds/kubelink-crd.yaml is generated from kubelink-crd.ts and up to date', () => {
  const file = readFileSync(path.join(REPO_ROOT, 'k8s', 'crds', 'kubelink-crd.yaml'), 'utf8');
  assert.equal(file, kubelinkCrdYaml(), 'run: node dist/src/main/k8s/write-kubelink-crd.js');
});

test('the CRD is cluster-scoped KubeLink/kubelinks with short name klink, a status subresource and the printer columns', () => {
  const spec = KUBELINK_CRD.spec;
  assert.equal(KUBELINK_CRD_NAME, 'kubelinks.kubelink.mandelsoft.org');
  assert.equal(spec.scope, 'Cluster');
  assert.deepEqual(spec.names.shortNames, ['klink']);
  const version = spec.versions[0];
  assert.equal(version.name, 'v1alpha1');
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c) => [c.name, c.jsonPath, 'priority' in c ? c.priority : 0]),
    [
      ['CIDR', '.spec.cidr', 0],
      ['Address', '.spec.clusterAddress', 0],
      ['Egress', '.spec.egress', 1],
      ['Endpoint', '.spec.endpoint', 0],
      ['Gateway', '.status.gateway', 0],
      ['State', '.status.state', 0],
      ['Message', '.status.message', 1],
      ['RTT-ms', '.status.rttMs', 1],
      ['Age', '.metadata.creationTimestamp', 0],
    ],
  );
});

test('the CIDR/address pattern accepts IPv4/len and rejects anything else', () => {
  const re = new RegExp(IPV4_WITH_PREFIX_PATTERN);
  for (const ok of ['100.64.16.0/20', '192.168.0.12/24', '0.0.0.0/0', '255.255.255.255/32']) assert.ok(re.test(ok), ok);
  for (const bad of ['100.64.16.0', '100.64.16.0/33', '256.1.1.1/8', '1.2.3/8', '01.2.3.4/8', ' 1.2.3.4/8', '1.2.3.4/8x', 'fd00::/8']) {
    assert.ok(!re.test(bad), bad);
  }
});

test('the ingress entry pattern accepts CIDR and !CIDR; cidr is optional, egress and ingress are bounded lists', () => {
  const re = new RegExp(INGRESS_ENTRY_PATTERN);
  for (const ok of ['100.64.0.10/32', '!100.64.0.20/32', '!0.0.0.0/0']) assert.ok(re.test(ok), ok);
  for (const bad of ['!!1.2.3.4/32', '1.2.3.4', '! 1.2.3.4/32', 'not 1.2.3.4/32']) assert.ok(!re.test(bad), bad);
  const spec = KUBELINK_CRD.spec.versions[0].schema.openAPIV3Schema.properties.spec;
  assert.deepEqual(spec.required, ['clusterAddress', 'endpoint']);
  assert.equal(spec.properties.egress.maxItems, 32);
  assert.equal(spec.properties.ingress.items.pattern, INGRESS_ENTRY_PATTERN);
});

test('the endpoint pattern accepts host[:port] and rejects URLs, bad ports and bad labels', () => {
  const re = new RegExp(ENDPOINT_PATTERN);
  for (const ok of ['broker.c1.kubelink.lab', 'broker.c1.kubelink.lab:8088', 'Broker.Example.com.', '10.0.0.1:80', 'a', 'a:65535']) assert.ok(re.test(ok), ok);
  for (const bad of ['http://a.b', 'a..b', '-a.b', 'a-.b', 'a:0', 'a:65536', 'a:', 'a b', `${'x'.repeat(64)}.lab`, '']) assert.ok(!re.test(bad), bad);
});

test('containsDesired ignores members the server added and notices changed or missing ones', () => {
  assert.equal(containsDesired({ a: 1, b: { c: [1, { d: 2, e: 3 }] }, extra: true }, { a: 1, b: { c: [1, { d: 2 }] } }), true);
  assert.equal(containsDesired({ a: 1, b: { c: [1] } }, { a: 1, b: { c: [1, 2] } }), false);
  assert.equal(containsDesired({ a: 2 }, { a: 1 }), false);
  assert.equal(containsDesired({}, { a: { b: 1 } }), false);
});

describe('ensureCrd against the test API server', () => {
  let env: ApiServerEnv;
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await env.close();
  });

  test('creates the CRD, after which kubelinks are served and validated by its schema', async () => {
    assert.equal(await ensureCrd(env.kubeConfig, silentLogger), 'created');
    await createLink(env, kubeLink('c2', 2));
    const bad = kubeLink('bad', 3);
    bad.spec.cidr = '100.64.48.0';
    await assert.rejects(createLink(env, bad), (err: unknown) => apiStatusCode(err) === 422);
    const noEndpoint = kubeLink('bad2', 3) as unknown as { spec: Record<string, string> };
    delete noEndpoint.spec.endpoint;
    await assert.rejects(createLink(env, noEndpoint as never), (err: unknown) => apiStatusCode(err) === 422);
  });

  test('the schema keeps the state enum (a status outside Up|Down|Error|Invalid is rejected)', async () => {
    const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    await assert.rejects(
      env.custom.patchClusterCustomObjectStatus(
        { group: 'kubelink.mandelsoft.org', version: 'v1alpha1', plural: 'kubelinks', name: 'c2', body: { status: { state: 'Sideways' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
      (err: unknown) => apiStatusCode(err) === 422,
    );
  });

  test('a second run leaves a matching CRD alone', async () => {
    assert.equal(await ensureCrd(env.kubeConfig, silentLogger), 'unchanged');
  });

  test('a CRD that differs (e.g. an old version without the Message column) is updated', async () => {
    const api = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', name: KUBELINK_CRD_NAME };
    const current = (await env.custom.getClusterCustomObject(api)) as { spec: { versions: Array<{ additionalPrinterColumns: Array<{ name: string }> }> } };
    current.spec.versions[0]!.additionalPrinterColumns = current.spec.versions[0]!.additionalPrinterColumns.filter((c) => c.name !== 'Message');
    await env.custom.replaceClusterCustomObject({ ...api, body: current });
    assert.equal(await ensureCrd(env.kubeConfig, silentLogger), 'updated');
    const updated = (await env.custom.getClusterCustomObject(api)) as typeof current;
    assert.ok(updated.spec.versions[0]!.additionalPrinterColumns.some((c) => c.name === 'Message'));
    assert.equal(await ensureCrd(env.kubeConfig, silentLogger), 'unchanged');
  });
});
