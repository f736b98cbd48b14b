import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseApiPath } from '../../apiserver/request-path.js';

test('core and group resource paths resolve to group, version, namespace, plural, name, subresource', () => {
  assert.deepEqual(parseApiPath('/api/v1/namespaces/kubelink/secrets/tls'), { kind: 'resource', group: '', version: 'v1', namespace: 'kubelink', plural: 'secrets', name: 'tls', subresource: undefined });
  assert.deepEqual(parseApiPath('/apis/kubelink.mandelsoft.org/v1alpha1/kubelinks/c2/status'), {
    kind: 'resource',
    group: 'kubelink.mandelsoft.org',
    version: 'v1alpha1',
    plural: 'kubelinks',
    name: 'c2',
    subresource: 'status',
  });
  assert.deepEqual(parseApiPath('/apis/coordination.k8s.io/v1/leases'), { kind: 'resource', group: 'coordination.k8s.io', version: 'v1', plural: 'leases', name: undefined, subresource: undefined });
});

test('namespaces/<name>/status is the namespace status subresource, not a resource called status', () => {
  assert.deepEqual(parseApiPath('/api/v1/namespaces/kubelink/status'), { kind: 'resource', group: '', version: 'v1', plural: 'namespaces', name: 'kubelink', subresource: 'status' });
  assert.deepEqual(parseApiPath('/api/v1/namespaces/kubelink'), { kind: 'resource', group: '', version: 'v1', plural: 'namespaces', name: 'kubelink', subresource: undefined });
});

test('discovery and openapi paths', () => {
  assert.deepEqual(parseApiPath('/version'), { kind: 'version' });
  assert.deepEqual(parseApiPath('/api'), { kind: 'coreVersions' });
  assert.deepEqual(parseApiPath('/apis'), { kind: 'groupList' });
  assert.deepEqual(parseApiPath('/apis/apps'), { kind: 'group', group: 'apps' });
  assert.deepEqual(parseApiPath('/apis/apps/v1'), { kind: 'resourceList', group: 'apps', version: 'v1' });
  assert.deepEqual(parseApiPath('/api/v1'), { kind: 'resourceList', group: '', version: 'v1' });
  assert.deepEqual(parseApiPath('/openapi/v3'), { kind: 'openApiRoot' });
  assert.deepEqual(parseApiPath('/openapi/v3/apis/apps/v1'), { kind: 'openApiGroupVersion', group: 'apps', version: 'v1' });
});

test('unknown or malformed paths resolve to nothing', () => {
  for (const p of ['/', '/foo', '/api/v2/pods', '/api/v1/namespaces/a/b/c/d/e', '/apis/g/v/r/n/s/x', '/api/v1/%E0%A4%A']) {
    assert.equal(parseApiPath(p), undefined, p);
  }
});
