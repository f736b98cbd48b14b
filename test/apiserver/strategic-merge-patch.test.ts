import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonValue } from '../../apiserver/api-types.js';
import { applyStrategicMergePatch as apply } from '../../apiserver/strategic-merge-patch.js';

const applyStrategicMergePatch = (target: unknown, patch: unknown): JsonValue => apply(target as JsonValue, patch as JsonValue);

const deployment = {
  spec: {
    template: {
      spec: {
        containers: [
          { name: 'broker', image: 'kubelink:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 8088 }] },
          { name: 'sidecar', image: 'busybox' },
        ],
        tolerations: [{ key: 'a' }],
      },
    },
  },
};

test('containers merge by name and env by name; $patch: delete removes one entry', () => {
  // What kubectl apply sends after removing env B and container sidecar and changing the image.
  const patch = {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'broker' }],
          containers: [
            { '$setElementOrder/env': [{ name: 'A' }, { name: 'C' }], name: 'broker', image: 'kubelink:2', env: [{ name: 'C', value: '3' }, { $patch: 'delete', name: 'B' }] },
            { $patch: 'delete', name: 'sidecar' },
          ],
        },
      },
    },
  };
  const out = applyStrategicMergePatch(deployment, patch) as typeof deployment;
  assert.deepEqual(out.spec.template.spec.containers, [
    { name: 'broker', image: 'kubelink:2', env: [{ name: 'A', value: '1' }, { name: 'C', value: '3' }], ports: [{ containerPort: 8088 }] },
  ]);
});

test('$setElementOrder reorders a keyed list', () => {
  const out = applyStrategicMergePatch(deployment, {
    spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'broker' }] } } },
  }) as typeof deployment;
  assert.deepEqual(out.spec.template.spec.containers.map((c) => c.name), ['sidecar', 'broker']);
});

test('lists without a merge key are replaced, as atomic lists are', () => {
  const out = applyStrategicMergePatch(deployment, { spec: { template: { spec: { tolerations: [{ key: 'b' }] } } } }) as typeof deployment;
  assert.deepEqual(out.spec.template.spec.tolerations, [{ key: 'b' }]);
});

test('service ports merge by port, container ports by containerPort', () => {
  const svc = { spec: { ports: [{ port: 80, name: 'http' }, { port: 8088, name: 'broker' }] } };
  assert.deepEqual(applyStrategicMergePatch(svc, { spec: { ports: [{ port: 8088, targetPort: 9000 }] } }), {
    spec: { ports: [{ port: 80, name: 'http' }, { port: 8088, name: 'broker', targetPort: 9000 }] },
  });
});

test('finalizers merge as a set; $deleteFromPrimitiveList removes entries', () => {
  const obj = { metadata: { finalizers: ['a', 'b'] } };
  assert.deepEqual(applyStrategicMergePatch(obj, { metadata: { finalizers: ['c'] } }), { metadata: { finalizers: ['a', 'b', 'c'] } });
  assert.deepEqual(applyStrategicMergePatch(obj, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }), { metadata: { finalizers: ['b'] } });
});

test('$patch: replace replaces a map and $retainKeys drops unlisted keys; null deletes', () => {
  const obj = { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } }, selector: { a: '1', b: '2' }, paused: true } };
  const out = applyStrategicMergePatch(obj, {
    spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' }, selector: { $patch: 'replace', c: '3' }, paused: null },
  });
  assert.deepEqual(out, { spec: { strategy: { type: 'Recreate' }, selector: { c: '3' } } });
});
