import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import { MESHSERVICE_CRD, MESHSERVICE_CRD_NAME, meshServiceCrdYaml } from '../../../src/main/mesh-services/mesh-service-crd.js';
import { ensureCrd } from '../../../src/main/k8s/ensure-crd.js';
import { apiStatusCode } from '../../../src/main/k8s/api-error.js';
import { silentLogger } from '../../../src/shared/log.js';
import { startEnv, type ApiServerEnv } from '../k8s/api-server-env.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const MSVC = { group: 'kubelink.mandelsoft.org', version: 'v1alpha1', plural: 'meshservices' };

test('k8s/crds/meshservice-crd.yaml is generated from mesh-service-crd.ts and up to date', () => {
  const file = readFileSync(path.join(REPO_ROOT, 'k8s', 'crds', 'meshservice-crd.yaml'), 'utf8');
  assert.equal(file, meshServiceCrdYaml(), 'run: node dist/src/main/k8s/write-kubelink-crd.js');
});

test('the CRD is namespaced MeshService/meshservices with short name msvc, a status subresource and the printer columns', () => {
  const spec = MESHSERVICE_CRD.spec;
  assert.equal(MESHSERVICE_CRD_NAME, 'meshservices.kubelink.mandelsoft.org');
  assert.equal(spec.scope, 'Namespaced');
  assert.deepEqual(spec.names.shortNames, ['msvc']);
  const version = spec.versions[0];
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns.map((c) => [c.name, c.jsonPath, 'priority' in c ? c.priority : 0]),
    [
      ['Service', '.spec.service', 0],
      ['Address', '.status.address', 0],
      ['Ports', '.spec.ports[*].port', 1],
      ['State', '.status.state', 0],
      ['Message', '.status.message', 1],
      ['Age', '.metadata.creationTimestamp', 0],
    ],
  );
});

describe('the MeshService CRD and EndpointSlices on the test API server', () => {
  let env: ApiServerEnv;
  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    await env.close();
  });

  test('ensureCrd installs it; bad ports pass admission (the broker reports them Invalid), a bad state or address does not', async () => {
    assert.equal(await ensureCrd(env.kubeConfig, silentLogger, {}, MESHSERVICE_CRD), 'created');
    assert.equal(await ensureCrd(env.kubeConfig, silentLogger, {}, MESHSERVICE_CRD), 'unchanged');
    const body = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'kubelink.mandelsoft.org/v1alpha1', kind: 'MeshService', metadata: { name }, spec });
    await env.custom.createNamespacedCustomObject({ ...MSVC, namespace: 'default', body: body('echo', { service: 'echo', meshAddress: '192.168.0.100', ports: [{ port: 80, targetPort: 'http' }] }) });
    await env.custom.createNamespacedCustomObject({ ...MSVC, namespace: 'default', body: body('badport', { service: 'echo', ports: [{ port: 70000, protocol: 'SCTP' }] }) });
    await assert.rejects(
      env.custom.createNamespacedCustomObject({ ...MSVC, namespace: 'default', body: body('badaddress', { service: 'echo', meshAddress: 'banana' }) }),
      (err: unknown) => apiStatusCode(err) === 422,
    );
    const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    await assert.rejects(
      env.custom.patchNamespacedCustomObjectStatus(
        { ...MSVC, namespace: 'default', name: 'echo', body: { status: { state: 'Sideways' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
      (err: unknown) => apiStatusCode(err) === 422,
    );
    const list = (await env.custom.listClusterCustomObject(MSVC)) as { items: Array<{ metadata: { name: string } }> };
    assert.deepEqual(list.items.map((i) => i.metadata.name).sort(), ['badport', 'echo']);
  });

  test('EndpointSlices are served and selected by the kubernetes.io/service-name label', async () => {
    const discovery = env.kubeConfig.makeApiClient(DiscoveryV1Api);
    const slice = (name: string, service: string) => ({
      metadata: { name, labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['100.96.1.2'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice('echo-abc', 'echo') });
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice('other-abc', 'other') });
    const echo = await discovery.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=echo' });
    assert.deepEqual(echo.items.map((s) => s.metadata?.name), ['echo-abc']);
    assert.equal(echo.items[0]!.ports?.[0]?.port, 8080);
    assert.equal(echo.items[0]!.endpoints?.[0]?.conditions?.ready, true);
  });
});
