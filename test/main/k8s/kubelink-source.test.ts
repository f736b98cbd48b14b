// KubernetesLinkSource against the test API server: informer delivery, status writes,
// Events, and no lost change across an API server restart.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Watch } from '@kubernetes/client-node';
import type { CoreV1Event } from '@kubernetes/client-node';
import { ensureCrd } from '../../../src/main/k8s/ensure-crd.js';
import { KUBELINKS_PATH, KubernetesLinkSource } from '../../../src/main/k8s/kubelink-source.js';
import { silentLogger } from '../../../src/shared/log.js';
import type { KubeLinkResource, KubeLinkStatus } from '../../../src/shared/types.js';
import { createLink, deleteLink, getLink, kubeLink, replaceLinkSpec, startEnv, waitFor } from './api-server-env.js';
import type { ApiServerEnv } from './api-server-env.js';

/** A status without lastTransitionTime (the writer sets it from the clock). */
function reported(status: KubeLinkStatus | undefined): KubeLinkStatus {
  const { lastTransitionTime: _when, ...rest } = status ?? {};
  return rest;
}

const NAMESPACE = 'kube-system';
const FAST = { backoffInitialMs: 100, backoffMaxMs: 500, debounceMs: 10 };

interface Delivered {
  latest: KubeLinkResource[];
  count: number;
}

function collector(): { delivered: Delivered; onChange: (items: KubeLinkResource[]) => void } {
  const delivered: Delivered = { latest: [], count: 0 };
  return {
    delivered,
    onChange: (items) => {
      delivered.latest = items;
      delivered.count++;
    },
  };
}

const summary = (items: KubeLinkResource[]): string[] => items.map((l) => `${l.metadata.name}:${l.spec.cidr}`);

async function linkEvents(env: ApiServerEnv, name: string): Promise<CoreV1Event[]> {
  const list = await env.core.listNamespacedEvent({ namespace: NAMESPACE });
  return list.items.filter((e) => e.involvedObject.name === name && e.involvedObject.kind === 'KubeLink');
}

describe('KubernetesLinkSource', () => {
  let env: ApiServerEnv;
  let source: KubernetesLinkSource;
  const { delivered, onChange } = collector();

  before(async () => {
    env = await startEnv();
    await ensureCrd(env.kubeConfig, silentLogger);
    await createLink(env, kubeLink('c2', 2));
    source = new KubernetesLinkSource(env.kubeConfig, silentLogger, { eventNamespace: NAMESPACE, informer: FAST, component: 'kubelink-test' });
    await source.start(onChange);
  });
  after(async () => {
    await source.stop();
    await env.close();
  });

  test('start delivers the existing KubeLinks before it resolves', () => {
    assert.deepEqual(summary(delivered.latest), ['c2:100.64.32.0/20']);
  });

  test('adds, spec updates and deletes arrive as the full current set', async () => {
    await createLink(env, kubeLink('c3', 3));
    await waitFor('c3 added', () => summary(delivered.latest).includes('c3:100.64.48.0/20'));
    await replaceLinkSpec(env, 'c3', { cidr: '100.64.64.0/20' });
    await waitFor('c3 updated', () => summary(delivered.latest).includes('c3:100.64.64.0/20'));
    await deleteLink(env, 'c3');
    await waitFor('c3 deleted', () => delivered.latest.every((l) => l.metadata.name !== 'c3'));
    assert.deepEqual(summary(delivered.latest), ['c2:100.64.32.0/20']);
  });

  test('reportStatus writes /status by merge patch without touching spec or generation, and records an Event', async () => {
    const before = await getLink(env, 'c2');
    await source.reportStatus('c2', { state: 'Up', message: 'tunnel carries keepalives', gateway: '10.250.0.2' });
    const after = await getLink(env, 'c2');
    assert.deepEqual(reported(after.status), { state: 'Up', message: 'tunnel carries keepalives', gateway: '10.250.0.2' });
    assert.match(after.status?.lastTransitionTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'a state change records when');
    assert.deepEqual(after.spec, before.spec);
    assert.equal(after.metadata.generation, before.metadata.generation);
    const events = await linkEvents(env, 'c2');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.reason, 'LinkUp');
    assert.equal(events[0]!.type, 'Normal');
    assert.equal(events[0]!.involvedObject.uid, before.metadata.uid);
    assert.equal(events[0]!.source?.component, 'kubelink-test');
  });

  test('reporting the status the KubeLink already has writes nothing', async () => {
    await waitFor('informer saw the status', () => delivered.latest.find((l) => l.metadata.name === 'c2')?.status?.state === 'Up');
    const before = await getLink(env, 'c2');
    await source.reportStatus('c2', { state: 'Up', message: 'tunnel carries keepalives', gateway: '10.250.0.2' });
    const after = await getLink(env, 'c2');
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  });

  test('a field left out of the reported status is removed; the same state records no new Event', async () => {
    const before = await getLink(env, 'c2');
    await source.reportStatus('c2', { state: 'Up', gateway: '10.250.0.2', rttMs: 1.25, rxBytes: 10, txBytes: 20, statsTime: '2026-01-01T00:00:00Z' });
    const after = await getLink(env, 'c2');
    assert.deepEqual(reported(after.status), { state: 'Up', gateway: '10.250.0.2', rttMs: 1.25, rxBytes: 10, txBytes: 20, statsTime: '2026-01-01T00:00:00Z' });
    assert.equal(after.status?.lastTransitionTime, before.status?.lastTransitionTime, 'the state stayed: so does lastTransitionTime');
    assert.equal((await linkEvents(env, 'c2')).length, 1);
  });

  test('a burst of reports is coalesced: the last one wins and at most two writes happen', async () => {
    const modified: string[] = [];
    const watch = new Watch(env.kubeConfig);
    const current = await getLink(env, 'c2');
    const controller = await watch.watch(
      KUBELINKS_PATH,
      { resourceVersion: current.metadata.resourceVersion, fieldSelector: 'metadata.name=c2' },
      (phase, obj: KubeLinkResource) => {
        if (phase === 'MODIFIED') modified.push(obj.status?.state ?? '');
      },
      () => {},
    );
    try {
      const states = ['Down', 'Error', 'Down', 'Error', 'Down', 'Up', 'Down', 'Error'] as const;
      await Promise.all(states.map((state, i) => source.reportStatus('c2', { state, message: `report ${i}`, gateway: '10.250.0.2' })));
      const final = await getLink(env, 'c2');
      assert.deepEqual(reported(final.status), { state: 'Error', message: 'report 7', gateway: '10.250.0.2' });
      await waitFor('the watch saw the final write', () => modified.at(-1) === 'Error');
      assert.ok(modified.length <= 2, `writes: ${modified.join(',')}`);
    } finally {
      controller.abort();
    }
  });

  test('a status for a KubeLink that does not exist is dropped without error', async () => {
    await source.reportStatus('nonexistent', { state: 'Down', message: 'x' });
  });

  test('an Invalid verdict on a KubeLink without status lands (merge patch creates status) with a Warning Event', async () => {
    await createLink(env, kubeLink('c4', 4));
    await waitFor('c4 seen', () => delivered.latest.some((l) => l.metadata.name === 'c4'));
    await source.reportStatus('c4', { state: 'Invalid', message: 'spec.cidr overlaps the local service CIDR' });
    assert.deepEqual(reported((await getLink(env, 'c4')).status), { state: 'Invalid', message: 'spec.cidr overlaps the local service CIDR' });
    const events = await linkEvents(env, 'c4');
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.message]),
      [['Warning', 'LinkInvalid', 'Invalid: spec.cidr overlaps the local service CIDR']],
    );
  });
});

describe('KubernetesLinkSource across an API server restart', () => {
  let env: ApiServerEnv;
  let source: KubernetesLinkSource | undefined;

  before(async () => {
    env = await startEnv({ persistent: true });
    await ensureCrd(env.kubeConfig, silentLogger);
  });
  after(async () => {
    await source?.stop();
    await env.close();
  });

  test('changes made after a restart, before the informer reconnected, are all seen', async () => {
    await createLink(env, kubeLink('keep', 2));
    await createLink(env, kubeLink('change', 3));
    await createLink(env, kubeLink('remove', 4));
    const { delivered, onChange } = collector();
    // A long first backoff: the informer stays disconnected while the test changes things.
    source = new KubernetesLinkSource(env.kubeConfig, silentLogger, {
      eventNamespace: NAMESPACE,
      informer: { backoffInitialMs: 1_500, backoffMaxMs: 3_000, debounceMs: 10 },
    });
    await source.start(onChange);
    assert.deepEqual(summary(delivered.latest), ['change:100.64.48.0/20', 'keep:100.64.32.0/20', 'remove:100.64.64.0/20']);
    await waitFor('the informer watches', () => env.server.openWatches() === 1);

    await env.restart();
    await createLink(env, kubeLink('added', 5));
    await replaceLinkSpec(env, 'change', { cidr: '100.64.96.0/20' });
    await deleteLink(env, 'remove');
    assert.equal(env.server.openWatches(), 0, 'the changes were made while the informer was disconnected');

    await waitFor('all changes seen', () => summary(delivered.latest).join(' ') === 'added:100.64.80.0/20 change:100.64.96.0/20 keep:100.64.32.0/20');
    await waitFor('the informer watches the new server', () => env.server.openWatches() === 1);
    await createLink(env, kubeLink('later', 6));
    await waitFor('a change after reconnecting is seen', () => delivered.latest.some((l) => l.metadata.name === 'later'));
  });

  test('a status write that failed while the API server was down is written once it is back', async () => {
    await source?.stop();
    await createLink(env, kubeLink('retried', 7));
    source = new KubernetesLinkSource(env.kubeConfig, silentLogger, {
      eventNamespace: NAMESPACE,
      informer: FAST,
      statusRetryInitialMs: 200,
      statusRetryMaxMs: 400,
    });
    await source.start(() => {});
    const running = source;
    let failure: unknown;
    await env.restart(async () => {
      failure = await running.reportStatus('retried', { state: 'Up', message: 'tunnel up', gateway: '10.250.0.2' }).then(
        () => undefined,
        (err: unknown) => err,
      );
    });
    assert.ok(failure instanceof Error, 'the write was attempted while the API server was down');
    // Nothing reports again (the tunnel stays Up): the source itself must retry.
    await waitFor('the status landed after the restart', async () => (await getLink(env, 'retried')).status?.state === 'Up');
    assert.deepEqual(reported((await getLink(env, 'retried')).status), { state: 'Up', message: 'tunnel up', gateway: '10.250.0.2' });
  });

  test('a status patch that gets no answer fails after the call timeout and is written once the server answers again', async () => {
    await source?.stop();
    await createLink(env, kubeLink('blackholed', 8));
    source = new KubernetesLinkSource(env.kubeConfig, silentLogger, {
      eventNamespace: NAMESPACE,
      informer: FAST,
      apiCallTimeoutMs: 300,
      statusRetryInitialMs: 200,
      statusRetryMaxMs: 400,
    });
    await source.start(() => {});
    const running = source;
    const port = Number(new URL(env.kubeConfig.getCurrentCluster()!.server).port);
    let failure: unknown;
    await env.restart(async () => {
      // Accepts connections and never answers, like a partitioned API server.
      const held: net.Socket[] = [];
      const hole = net.createServer((socket) => void held.push(socket));
      hole.listen(port, '127.0.0.1');
      await once(hole, 'listening');
      const started = Date.now();
      failure = await running.reportStatus('blackholed', { state: 'Up', message: 'tunnel up', gateway: '10.250.0.2' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(Date.now() - started < 5_000, 'the write gave up instead of hanging');
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => hole.close(() => resolve()));
    });
    assert.match(String(failure), /no answer from the API server within 300 ms/);
    await waitFor('the status landed after the partition', async () => (await getLink(env, 'blackholed')).status?.state === 'Up');
  });
});

describe('KubernetesLinkSource when its resourceVersion expired', () => {
  let env: ApiServerEnv;
  let source: KubernetesLinkSource | undefined;

  before(async () => {
    // Two events of history: more changes than that while disconnected answer the watch with 410 Gone.
    env = await startEnv({ persistent: true, watchHistorySize: 2 });
    await ensureCrd(env.kubeConfig, silentLogger);
  });
  after(async () => {
    await source?.stop();
    await env.close();
  });

  test('a watch answered with 410 Gone relists and reconciles adds, updates and deletes', async () => {
    await createLink(env, kubeLink('keep', 2));
    await createLink(env, kubeLink('change', 3));
    await createLink(env, kubeLink('remove', 4));
    const { delivered, onChange } = collector();
    source = new KubernetesLinkSource(env.kubeConfig, silentLogger, {
      eventNamespace: NAMESPACE,
      informer: { backoffInitialMs: 1_500, backoffMaxMs: 3_000, debounceMs: 10 },
    });
    await source.start(onChange);
    await waitFor('the informer watches', () => env.server.openWatches() === 1);
    await env.restart();
    for (let i = 5; i < 10; i++) await createLink(env, kubeLink(`added${i}`, i));
    await replaceLinkSpec(env, 'change', { cidr: '100.64.240.0/20' });
    await deleteLink(env, 'remove');
    assert.equal(env.server.openWatches(), 0);
    const expected = ['added5', 'added6', 'added7', 'added8', 'added9', 'change', 'keep'];
    await waitFor('the relist applied everything', () => delivered.latest.map((l) => l.metadata.name).join() === expected.join());
    assert.equal(delivered.latest.find((l) => l.metadata.name === 'change')?.spec.cidr, '100.64.240.0/20');
  });
});
