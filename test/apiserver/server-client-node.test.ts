// End-to-end: @kubernetes/client-node 2.x (what kubelink uses; it speaks HTTP/1.1 through
// undici) against the test API server.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { startApiServer, type ApiServerOptions, type RunningApiServer } from '../../apiserver/server.js';
import { fixture } from './kubectl-harness.js';

const GROUP = 'kubelink.mandelsoft.org';
const VERSION = 'v1alpha1';
const PLURAL = 'kubelinks';
const PATH = `/apis/${GROUP}/${VERSION}/${PLURAL}`;
const MERGE_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

interface Env {
  server: RunningApiServer;
  kc: k8s.KubeConfig;
  objects: k8s.CustomObjectsApi;
}

async function startEnv(options: ApiServerOptions = {}): Promise<Env> {
  const server = await startApiServer(options);
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  const crd = parseAllDocuments(readFileSync(fixture('kubelink-crd.yaml'), 'utf8'))[0].toJSON() as k8s.V1CustomResourceDefinition;
  await kc.makeApiClient(k8s.ApiextensionsV1Api).createCustomResourceDefinition({ body: crd });
  return { server, kc, objects: kc.makeApiClient(k8s.CustomObjectsApi) };
}

function kubeLink(name: string, n: number): object {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'KubeLink',
    metadata: { name },
    spec: { cidr: `100.64.${16 * n}.0/20`, clusterAddress: `192.168.0.${10 + n}/24`, endpoint: `broker.c${n}.kubelink.lab` },
  };
}

const createLink = (env: Env, name: string, n: number): Promise<unknown> =>
  env.objects.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body: kubeLink(name, n) });

const patchStatus = (env: Env, name: string, status: object): Promise<{ status?: unknown; metadata: { resourceVersion: string; generation: number } }> =>
  env.objects.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { status } }, MERGE_PATCH);

type WatchedObject = k8s.KubernetesObject & { code?: number; reason?: string };

interface CollectedWatch {
  events: Array<{ type: string; object: WatchedObject }>;
  /** Resolves with the error given to the watch's done callback (null: clean end). */
  done: Promise<unknown>;
  next(pred: (e: { type: string }) => boolean): Promise<void>;
  callback: (type: string, obj: WatchedObject) => void;
  doneCallback: (err: unknown) => void;
}

/** Events a Watch delivers, awaitable one by one. */
function collectWatch(): CollectedWatch {
  const events: CollectedWatch['events'] = [];
  let wake = (): void => {};
  let resolveDone: (v: unknown) => void = () => {};
  const done = new Promise((r) => (resolveDone = r));
  return {
    events,
    done,
    callback: (type, object) => {
      events.push({ type, object });
      wake();
    },
    doneCallback: (err) => {
      resolveDone(err);
      wake();
    },
    async next(pred) {
      while (!events.some(pred)) await new Promise<void>((r) => (wake = r));
    },
  };
}

describe('client-node against the test API server', () => {
  let env: Env;
  before(async () => {
    env = await startEnv({ watchBookmarkIntervalMs: 100 });
    await createLink(env, 'cluster2', 1);
    await createLink(env, 'cluster3', 2);
  });
  after(async () => env.server.close());

  test('CustomObjectsApi lists KubeLinks with the list resourceVersion', async () => {
    const list = (await env.objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: k8s.KubernetesObject[]; metadata: { resourceVersion: string } };
    assert.deepEqual(list.items.map((i) => i.metadata?.name), ['cluster2', 'cluster3']);
    assert.equal(list.metadata.resourceVersion, String(env.server.resourceVersion()));
  });

  test('a merge patch on /status sets status without touching generation', async () => {
    const patched = await patchStatus(env, 'cluster2', { state: 'Up', gateway: '10.250.0.2' });
    assert.deepEqual(patched.status, { state: 'Up', gateway: '10.250.0.2' });
    assert.equal(patched.metadata.generation, 1);
  });

  test('a JSON patch adding /status/state fails with 422 while status is absent (why kubelink sends merge patches)', async () => {
    await assert.rejects(
      env.objects.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURAL, name: 'cluster3', body: [{ op: 'add', path: '/status/state', value: 'Up' }] }),
      (err: k8s.ApiException<string>) => err.code === 422 && /missing/.test(err.body),
    );
  });

  test('a status patch with an invalid gateway is rejected by the schema format', async () => {
    await assert.rejects(patchStatus(env, 'cluster3', { gateway: '10.250.0.300' }), (err: k8s.ApiException<string>) => {
      const status = JSON.parse(err.body);
      return err.code === 422 && status.reason === 'Invalid' && status.details.causes[0].field === 'status.gateway';
    });
  });

  test('an informer from makeInformer sees add, update and delete', { timeout: 20_000 }, async () => {
    const seen: string[] = [];
    let wake = (): void => {};
    const informer = k8s.makeInformer(env.kc, PATH, () => env.objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as never);
    const record = (what: string) => (obj: k8s.KubernetesObject) => {
      seen.push(`${what} ${obj.metadata?.name}`);
      wake();
    };
    informer.on(k8s.ADD, record('add'));
    informer.on(k8s.UPDATE, record('update'));
    informer.on(k8s.DELETE, record('delete'));
    const until = async (entry: string): Promise<void> => {
      while (!seen.includes(entry)) await new Promise<void>((r) => (wake = r));
    };
    await informer.start();
    try {
      await until('add cluster3');
      await createLink(env, 'cluster4', 3);
      await until('add cluster4');
      await patchStatus(env, 'cluster4', { state: 'Down', message: 'dialing' });
      await until('update cluster4');
      await env.objects.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: 'cluster4' });
      await until('delete cluster4');
      assert.equal(informer.get('cluster4'), undefined);
    } finally {
      await informer.stop();
    }
  });

  test('a watch with allowWatchBookmarks gets BOOKMARK events carrying the current resourceVersion', { timeout: 20_000 }, async () => {
    const w = collectWatch();
    const rv = String(env.server.resourceVersion());
    const controller = await new k8s.Watch(env.kc).watch(PATH, { allowWatchBookmarks: true, resourceVersion: rv }, w.callback, w.doneCallback);
    try {
      await w.next((e) => e.type === 'BOOKMARK');
      const bookmark = w.events.find((e) => e.type === 'BOOKMARK')!;
      assert.equal(bookmark.object.metadata?.resourceVersion, String(env.server.resourceVersion()));
      assert.equal(bookmark.object.kind, 'KubeLink');
    } finally {
      controller.abort();
    }
  });

  test('a watch with timeoutSeconds ends cleanly', { timeout: 20_000 }, async () => {
    const w = collectWatch();
    await new k8s.Watch(env.kc).watch(PATH, { timeoutSeconds: 1, resourceVersion: String(env.server.resourceVersion()) }, w.callback, w.doneCallback);
    assert.equal(await w.done, null);
  });

  test('a watch that receives nothing ends with a TimeoutError from the library (the informer resumes on exactly that)', { timeout: 20_000 }, async () => {
    // client-node 2.x aborts a watch after requestTimeoutMs (30 s; private, so set here only
    // to keep the test short) without a byte; the informer relies on the error's name.
    // Without allowWatchBookmarks the server sends nothing on a quiet watch.
    const w = collectWatch();
    const watch = new k8s.Watch(env.kc);
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 200;
    await watch.watch(PATH, { resourceVersion: String(env.server.resourceVersion()) }, w.callback, w.doneCallback);
    const err = (await w.done) as { name?: string };
    assert.equal(err?.name, 'TimeoutError');
    assert.deepEqual(w.events, []);
  });

  test('a watch that keeps receiving bookmarks outlives the inactivity timeout', { timeout: 20_000 }, async () => {
    // Bookmarks every 100 ms against a 400 ms inactivity timeout: the watch must still be
    // open after more bookmarks than fit into one timeout.
    const w = collectWatch();
    const watch = new k8s.Watch(env.kc);
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 400;
    let ended = false;
    void w.done.then(() => (ended = true));
    const controller = await watch.watch(PATH, { allowWatchBookmarks: true, resourceVersion: String(env.server.resourceVersion()) }, w.callback, w.doneCallback);
    try {
      await w.next(() => ended || w.events.filter((e) => e.type === 'BOOKMARK').length >= 8);
      assert.equal(ended, false, 'the watch was not ended while data kept arriving');
    } finally {
      controller.abort();
    }
  });

  test('a label-selected watch reports an object leaving the selection as DELETED', { timeout: 20_000 }, async () => {
    const w = collectWatch();
    const controller = await new k8s.Watch(env.kc).watch(PATH, { labelSelector: 'served=yes' }, w.callback, w.doneCallback);
    try {
      const label = (value: string | null): Promise<unknown> =>
        env.objects.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: 'cluster3', body: { metadata: { labels: { served: value } } } }, MERGE_PATCH);
      await label('yes');
      await w.next((e) => e.type === 'ADDED');
      await label('no');
      await w.next((e) => e.type === 'DELETED');
      assert.deepEqual(w.events.map((e) => `${e.type} ${e.object.metadata?.name}`), ['ADDED cluster3', 'DELETED cluster3']);
    } finally {
      controller.abort();
    }
  });

  test('replacing a Lease with a stale resourceVersion fails with 409 Conflict', async () => {
    const leases = env.kc.makeApiClient(k8s.CoordinationV1Api);
    const lease = await leases.createNamespacedLease({
      namespace: 'default',
      body: { metadata: { name: 'kubelink-broker' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new k8s.V1MicroTime(), leaseTransitions: 0 } },
    });
    lease.spec!.holderIdentity = 'b';
    const updated = await leases.replaceNamespacedLease({ name: 'kubelink-broker', namespace: 'default', body: lease });
    assert.equal(updated.spec?.holderIdentity, 'b');
    assert.ok(Number(updated.metadata?.resourceVersion) > Number(lease.metadata?.resourceVersion));
    await assert.rejects(leases.replaceNamespacedLease({ name: 'kubelink-broker', namespace: 'default', body: lease }), (err: k8s.ApiException<string>) => err.code === 409 && JSON.parse(err.body).reason === 'Conflict');
  });

  test('Events created with generateName are listed by an involvedObject field selector', async () => {
    const core = env.kc.makeApiClient(k8s.CoreV1Api);
    const created = await core.createNamespacedEvent({
      namespace: 'default',
      body: { metadata: { generateName: 'cluster2.' }, involvedObject: { kind: 'KubeLink', name: 'cluster2', apiVersion: `${GROUP}/${VERSION}` }, reason: 'Up', message: 'tunnel up', type: 'Normal', count: 1 },
    });
    assert.match(created.metadata?.name ?? '', /^cluster2\.[a-z0-9]{5}$/);
    const listed = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=cluster2,involvedObject.kind=KubeLink' });
    assert.deepEqual(listed.items.map((e) => e.reason), ['Up']);
    const none = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=cluster9' });
    assert.equal(none.items.length, 0);
  });
});

describe('client-node and watch history', () => {
  test('a watch from a compacted resourceVersion gets an ERROR event with a 410 Expired Status, then the stream ends', { timeout: 20_000 }, async () => {
    const env = await startEnv({ watchHistorySize: 2 });
    try {
      const start = String(env.server.resourceVersion());
      for (let i = 1; i <= 4; i++) await createLink(env, `c${i}`, i);
      const w = collectWatch();
      await new k8s.Watch(env.kc).watch(PATH, { resourceVersion: start }, w.callback, w.doneCallback);
      assert.equal(await w.done, null);
      assert.equal(w.events.length, 1);
      assert.equal(w.events[0].type, 'ERROR');
      assert.equal(w.events[0].object.code, 410);
      assert.equal(w.events[0].object.reason, 'Expired');
    } finally {
      await env.server.close();
    }
  });

  test('an informer whose list resourceVersion has been compacted gets 410, relists, and misses nothing', { timeout: 20_000 }, async () => {
    const env = await startEnv({ watchHistorySize: 1 });
    let lists = 0;
    // The first list returns a version that two later changes push out of the one-event history.
    const listFn = async (): Promise<never> => {
      const list = await env.objects.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL });
      if (lists++ === 0) {
        await createLink(env, 'a', 1);
        await createLink(env, 'b', 2);
      }
      return list as never;
    };
    const informer = k8s.makeInformer(env.kc, PATH, listFn);
    const added: string[] = [];
    let wake = (): void => {};
    informer.on(k8s.ADD, (o) => {
      added.push(o.metadata!.name!);
      wake();
    });
    const until = async (names: string[]): Promise<void> => {
      while (!names.every((n) => added.includes(n))) await new Promise<void>((r) => (wake = r));
    };
    try {
      await informer.start();
      await until(['a', 'b']);
      assert.equal(lists, 2, 'the 410 made the informer list again');
      await createLink(env, 'c', 3);
      await until(['c']);
    } finally {
      await informer.stop();
      await env.server.close();
    }
  });
});

describe('client-node over TLS', () => {
  test('the kubeconfig of a --tls server carries its CA, and client-node verifies and connects', async () => {
    const server = await startApiServer({ tls: true });
    try {
      assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(server.kubeconfigPath);
      assert.ok(kc.getCurrentCluster()?.caData);
      assert.equal(kc.getCurrentCluster()?.skipTLSVerify, false);
      const namespaces = await kc.makeApiClient(k8s.CoreV1Api).listNamespace();
      assert.deepEqual(namespaces.items.map((n) => n.metadata?.name), ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
    } finally {
      await server.close();
    }
  });
});
