// Leader election on a real coordination.k8s.io/v1 Lease of the test API server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { LeaderElector, kubernetesLeaseStore } from '../../../src/main/k8s/leader-election.js';
import type { LeaseStore } from '../../../src/main/k8s/leader-election.js';
import { silentLogger } from '../../../src/shared/log.js';
import { startEnv, waitFor } from './api-server-env.js';
import type { ApiServerEnv } from './api-server-env.js';

const NAMESPACE = 'kube-system';
const TIMINGS = { leaseDurationSeconds: 2, renewDeadlineMs: 1_500, retryPeriodMs: 200 };

interface Candidate {
  elector: LeaderElector;
  transitions: string[];
}

function candidate(store: LeaseStore, identity: string, timings: Partial<typeof TIMINGS> = {}): Candidate {
  const transitions: string[] = [];
  const elector = new LeaderElector(store, {
    ...TIMINGS,
    ...timings,
    identity,
    log: silentLogger,
    onStartedLeading: () => void transitions.push('started'),
    onStoppedLeading: () => void transitions.push('stopped'),
  });
  return { elector, transitions };
}

/** A store that can be cut off from the API, like a partitioned or frozen replica. */
function severable(store: LeaseStore): { store: LeaseStore; cut: () => void } {
  let cut = false;
  const gate = <T>(call: () => Promise<T>): Promise<T> => (cut ? Promise.reject(new Error('connect ECONNREFUSED')) : call());
  return {
    store: { read: () => gate(() => store.read()), create: (s) => gate(() => store.create(s)), update: (p, s) => gate(() => store.update(p, s)) },
    cut: () => {
      cut = true;
    },
  };
}

describe('LeaderElector on the test API server', () => {
  let env: ApiServerEnv;
  const electors: LeaderElector[] = [];

  before(async () => {
    env = await startEnv();
  });
  after(async () => {
    for (const e of electors) await e.stop();
    await env.close();
  });

  test('of two electors one leads; after it stops and releases, the other takes over without waiting for expiry', async () => {
    const store = () => kubernetesLeaseStore(env.kubeConfig, NAMESPACE, 'kubelink-broker');
    // A lease of an hour: the standby can only get it through the release.
    const long = { leaseDurationSeconds: 3_600 };
    const a = candidate(store(), 'replica-a', long);
    const b = candidate(store(), 'replica-b', long);
    electors.push(a.elector, b.elector);
    a.elector.start();
    await a.elector.whenLeading();
    b.elector.start();
    // Several retry periods pass: b keeps following.
    const leases = env.kubeConfig.makeApiClient(CoordinationV1Api);
    const firstRenew = String((await leases.readNamespacedLease({ name: 'kubelink-broker', namespace: NAMESPACE })).spec?.renewTime);
    await waitFor('a renewed the lease', async () => String((await leases.readNamespacedLease({ name: 'kubelink-broker', namespace: NAMESPACE })).spec?.renewTime) !== firstRenew);
    assert.equal(b.elector.leading, false);
    const lease = await leases.readNamespacedLease({ name: 'kubelink-broker', namespace: NAMESPACE });
    assert.equal(lease.spec?.holderIdentity, 'replica-a');
    assert.equal(lease.spec?.leaseDurationSeconds, 3_600);
    assert.match(String(lease.spec?.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime with microseconds');

    await a.elector.stop();
    assert.deepEqual(a.transitions, ['started', 'stopped']);
    await b.elector.whenLeading();
    const taken = await leases.readNamespacedLease({ name: 'kubelink-broker', namespace: NAMESPACE });
    assert.equal(taken.spec?.holderIdentity, 'replica-b');
    assert.equal(taken.spec?.leaseTransitions, 1);
  });

  test('a leader cut off from the API steps down; the standby takes over once the lease expired', async () => {
    const name = 'kubelink-partition';
    const severed = severable(kubernetesLeaseStore(env.kubeConfig, NAMESPACE, name));
    const a = candidate(severed.store, 'replica-a');
    const b = candidate(kubernetesLeaseStore(env.kubeConfig, NAMESPACE, name), 'replica-b');
    electors.push(a.elector, b.elector);
    a.elector.start();
    await a.elector.whenLeading();
    b.elector.start();
    severed.cut();
    await b.elector.whenLeading();
    assert.equal(a.elector.leading, false, 'the old leader stepped down before the standby could take over');
    assert.deepEqual(a.transitions, ['started', 'stopped']);
    assert.deepEqual(b.transitions, ['started']);
  });
});
