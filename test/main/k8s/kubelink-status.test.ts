import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameStatus, stateChangeEvent, statusMergePatch, withTransitionTime } from '../../../src/main/k8s/kubelink-status.js';
import type { KubeLinkResource } from '../../../src/shared/types.js';

const link: KubeLinkResource = {
  apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
  kind: 'KubeLink',
  metadata: { name: 'c2', uid: 'u-1', resourceVersion: '42' },
  spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint: 'broker.c2.kubelink.lab' },
};

test('statuses are equal when state, message and gateway are; absent equals undefined', () => {
  assert.equal(sameStatus(undefined, {}), true);
  assert.equal(sameStatus({ state: 'Up', gateway: '10.0.0.2' }, { state: 'Up', gateway: '10.0.0.2', message: undefined }), true);
  assert.equal(sameStatus({ state: 'Up' }, { state: 'Down' }), false);
  assert.equal(sameStatus({ state: 'Up', message: 'a' }, { state: 'Up', message: 'b' }), false);
  assert.equal(sameStatus({ state: 'Up', gateway: '10.0.0.2' }, { state: 'Up' }), false);
  // Stats are reported fields; lastTransitionTime is derived and does not count.
  assert.equal(sameStatus({ state: 'Up', rxBytes: 1 }, { state: 'Up', rxBytes: 2 }), false);
  assert.equal(sameStatus({ state: 'Up', lastTransitionTime: '2026-01-01T00:00:00Z' }, { state: 'Up' }), true);
});

test('lastTransitionTime is kept while the state stays and set to now when it changes', () => {
  const now = new Date('2026-11-29T10:00:00.123Z');
  const since = '2026-11-28T09:00:00Z';
  assert.equal(withTransitionTime({ state: 'Up', lastTransitionTime: since }, { state: 'Up', message: 'new' }, now).lastTransitionTime, since);
  assert.equal(withTransitionTime({ state: 'Up', lastTransitionTime: since }, { state: 'Down' }, now).lastTransitionTime, '2026-11-29T10:00:00Z');
  assert.equal(withTransitionTime(undefined, { state: 'Down' }, now).lastTransitionTime, '2026-11-29T10:00:00Z');
  assert.equal(withTransitionTime({ state: 'Up' }, { state: 'Up' }, now).lastTransitionTime, '2026-11-29T10:00:00Z', 'never recorded: now');
});

test('the merge patch sets every status field and deletes the absent ones with null', () => {
  assert.deepEqual(statusMergePatch({ state: 'Up', gateway: '10.0.0.2', rxBytes: 5 }), {
    status: { state: 'Up', message: null, gateway: '10.0.0.2', rttMs: null, rxBytes: 5, txBytes: null, statsTime: null, lastTransitionTime: null },
  });
});

test('a state change becomes an Event on the KubeLink: Normal for Up, Warning otherwise, with the transition', () => {
  const now = new Date('2025-01-01T00:00:00Z');
  const ctx = { namespace: 'kube-system', component: 'kubelink-broker', host: 'node1', now, uniqueSuffix: '0001' };
  const up = stateChangeEvent(link, 'Down', { state: 'Up', message: 'tunnel carries keepalives' }, ctx);
  assert.equal(up.type, 'Normal');
  assert.equal(up.reason, 'LinkUp');
  assert.equal(up.message, 'Down -> Up: tunnel carries keepalives');
  assert.equal(up.metadata?.namespace, 'kube-system');
  assert.match(up.metadata?.name ?? '', /^c2\.[0-9a-f]+0001$/);
  assert.deepEqual(up.involvedObject, { apiVersion: 'kubelink.mandelsoft.org/v1alpha1', kind: 'KubeLink', name: 'c2', uid: 'u-1', resourceVersion: '42' });
  assert.deepEqual(up.source, { component: 'kubelink-broker', host: 'node1' });
  const invalid = stateChangeEvent(link, undefined, { state: 'Invalid', message: 'x'.repeat(2000) }, ctx);
  assert.equal(invalid.type, 'Warning');
  assert.equal(invalid.reason, 'LinkInvalid');
  assert.equal(invalid.message?.length, 1024);
});
