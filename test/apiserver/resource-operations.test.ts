import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ApiError } from '../../apiserver/api-errors.js';
import type { JsonValue, KubeObject, ResourceType } from '../../apiserver/api-types.js';
import { builtinResourceTypes } from '../../apiserver/builtin-resources.js';
import { parseListFilter } from '../../apiserver/list-filter.js';
import { ObjectStore } from '../../apiserver/object-store.js';
import { ResourceOperations, type WriteOptions } from '../../apiserver/resource-operations.js';
import { ResourceRegistry } from '../../apiserver/resource-registry.js';
import { createStrategyLookup } from '../../apiserver/type-strategies.js';
import { fixture } from './kubectl-harness.js';

const W: WriteOptions = { dryRun: false, fieldValidation: 'Strict' };
const crd = parseAllDocuments(readFileSync(fixture('kubelink-crd.yaml'), 'utf8'))[0].toJSON() as JsonValue;

interface Env {
  store: ObjectStore;
  registry: ResourceRegistry;
  ops: ResourceOperations;
  type(group: string, version: string, plural: string): ResourceType;
}

function env(): Env {
  const store = new ObjectStore();
  const registry = new ResourceRegistry(builtinResourceTypes());
  let uid = 0;
  const ops = new ResourceOperations({
    store,
    registry,
    strategyFor: createStrategyLookup({ serviceClusterIpRange: '10.96.0.0/24' }),
    now: () => new Date('2025-06-01T12:00:00.123Z'),
    newUid: () => `uid-${++uid}`,
    randomNameSuffix: () => 'abcde',
  });
  const type = (g: string, v: string, p: string): ResourceType => {
    const t = registry.find(g, v, p);
    assert.ok(t, `${g}/${v}/${p} is served`);
    return t;
  };
  ops.create(type('', 'v1', 'namespaces'), undefined, { metadata: { name: 'default' } }, W);
  return { store, registry, ops, type };
}

function apiError(code: number, reason: string, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.reason, reason);
    if (message) assert.match(err.message, message);
    return true;
  };
}

const link = (name: string, endpoint = 'broker.c2.kubelink.lab'): JsonValue => ({
  apiVersion: 'kubelink.mandelsoft.org/v1alpha1',
  kind: 'KubeLink',
  metadata: { name },
  spec: { cidr: '100.64.16.0/20', clusterAddress: '192.168.0.12/24', endpoint },
});

describe('custom resources', () => {
  let e: Env;
  let kl: ResourceType;
  beforeEach(() => {
    e = env();
    e.ops.create(e.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'), undefined, crd, W);
    kl = e.type('kubelink.mandelsoft.org', 'v1alpha1', 'kubelinks');
  });

  test('creating a CRD serves its resource and sets Established and NamesAccepted', () => {
    assert.equal(kl.namespaced, false);
    assert.deepEqual(kl.shortNames, ['klink']);
    assert.equal(kl.hasStatusSubresource, true);
    const stored = e.ops.get({ type: e.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'), name: 'kubelinks.kubelink.mandelsoft.org' });
    const conditions = (stored.status as { conditions: Array<{ type: string; status: string }> }).conditions;
    assert.deepEqual(conditions.map((c) => `${c.type}=${c.status}`), ['NamesAccepted=True', 'Established=True']);
  });

  test('create sets uid, creationTimestamp (seconds), generation 1 and drops status', () => {
    const created = e.ops.create(kl, undefined, { ...(link('a') as object), status: { state: 'Up' } } as JsonValue, W).object;
    assert.equal(created.metadata.uid, 'uid-3');
    assert.equal(created.metadata.creationTimestamp, '2025-06-01T12:00:00Z');
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.status, undefined);
  });

  test('creating an existing name is 409 AlreadyExists', () => {
    e.ops.create(kl, undefined, link('a'), W);
    assert.throws(() => e.ops.create(kl, undefined, link('a'), W), apiError(409, 'AlreadyExists', /kubelinks.kubelink.mandelsoft.org "a" already exists/));
  });

  test('an update with a stale resourceVersion is 409 Conflict; with the current one it succeeds', () => {
    const v1 = e.ops.create(kl, undefined, link('a'), W).object;
    const v2 = e.ops.update({ type: kl, name: 'a' }, { ...(structuredClone(v1) as object), spec: { ...(v1.spec as object), endpoint: 'b.lab' } } as JsonValue, W).object;
    assert.throws(
      () => e.ops.update({ type: kl, name: 'a' }, structuredClone(v1) as unknown as JsonValue, W),
      apiError(409, 'Conflict', /Operation cannot be fulfilled on kubelinks.kubelink.mandelsoft.org "a": the object has been modified/),
    );
    assert.ok(Number(v2.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
  });

  test('an update of a custom resource without resourceVersion is refused (422), a patch without one is not', () => {
    e.ops.create(kl, undefined, link('a'), W);
    assert.throws(() => e.ops.update({ type: kl, name: 'a' }, link('a', 'c.lab'), W), apiError(422, 'Invalid', /must be specified for an update/));
    const patched = e.ops.patch({ type: kl, name: 'a' }, 'merge', '{"spec":{"endpoint":"c.lab"}}', W).object;
    assert.equal((patched.spec as { endpoint: string }).endpoint, 'c.lab');
  });

  test('a patch carrying a stale resourceVersion is 409 Conflict', () => {
    const v1 = e.ops.create(kl, undefined, link('a'), W).object;
    e.ops.patch({ type: kl, name: 'a' }, 'merge', '{"metadata":{"labels":{"x":"y"}}}', W);
    assert.throws(
      () => e.ops.patch({ type: kl, name: 'a' }, 'merge', JSON.stringify({ metadata: { resourceVersion: v1.metadata.resourceVersion }, spec: { endpoint: 'z.lab' } }), W),
      apiError(409, 'Conflict'),
    );
  });

  test('generation bumps on spec changes only: not on metadata or status changes', () => {
    e.ops.create(kl, undefined, link('a'), W);
    const target = { type: kl, name: 'a' };
    assert.equal(e.ops.patch(target, 'merge', '{"metadata":{"labels":{"x":"y"}}}', W).object.metadata.generation, 1);
    assert.equal(e.ops.patch(target, 'merge', '{"status":{"state":"Up"}}', W, 'status').object.metadata.generation, 1);
    assert.equal(e.ops.patch(target, 'merge', '{"spec":{"endpoint":"n.lab"}}', W).object.metadata.generation, 2);
  });

  test('main-resource writes keep the stored status; status writes keep everything but status', () => {
    e.ops.create(kl, undefined, link('a'), W);
    const target = { type: kl, name: 'a' };
    e.ops.patch(target, 'merge', '{"status":{"state":"Up"}}', W, 'status');
    const afterMain = e.ops.patch(target, 'merge', '{"status":{"state":"Down"},"metadata":{"labels":{"l":"1"}}}', W).object;
    assert.deepEqual(afterMain.status, { state: 'Up' });
    assert.deepEqual(afterMain.metadata.labels, { l: '1' });
    const afterStatus = e.ops.patch(target, 'merge', '{"status":{"message":"m"},"spec":{"endpoint":"x.lab"},"metadata":{"labels":{"l":"2"}}}', W, 'status').object;
    assert.deepEqual(afterStatus.status, { state: 'Up', message: 'm' });
    assert.equal((afterStatus.spec as { endpoint: string }).endpoint, 'broker.c2.kubelink.lab');
    assert.deepEqual(afterStatus.metadata.labels, { l: '1' });
  });

  test('a write that changes nothing keeps the resourceVersion and emits no event', () => {
    const v1 = e.ops.create(kl, undefined, link('a'), W).object;
    const before = e.store.resourceVersion();
    const again = e.ops.patch({ type: kl, name: 'a' }, 'merge', '{"spec":{"endpoint":"broker.c2.kubelink.lab"}}', W).object;
    assert.equal(again.metadata.resourceVersion, v1.metadata.resourceVersion);
    assert.equal(e.store.resourceVersion(), before);
  });

  test('schema violations are 422 Invalid with one cause per field', () => {
    assert.throws(
      () => e.ops.create(kl, undefined, { ...(link('bad') as object), spec: { cidr: 'x' } } as JsonValue, W),
      (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.code, 422);
        assert.deepEqual(err.details?.causes?.map((c) => c.field), ['spec.clusterAddress', 'spec.endpoint', 'spec.cidr']);
        assert.match(err.message, /^KubeLink.kubelink.mandelsoft.org "bad" is invalid: \[/);
        return true;
      },
    );
  });

  test('fieldValidation: Strict refuses unknown fields, Warn prunes and warns, Ignore prunes silently', () => {
    const body = (name: string): JsonValue => ({ ...(link(name) as object), spec: { ...((link(name) as { spec: object }).spec), color: 'red' } }) as JsonValue;
    assert.throws(() => e.ops.create(kl, undefined, body('s'), W), apiError(400, 'BadRequest', /strict decoding error: unknown field "spec.color"/));
    const warned = e.ops.create(kl, undefined, body('w'), { dryRun: false, fieldValidation: 'Warn' });
    assert.deepEqual(warned.warnings, ['unknown field "spec.color"']);
    assert.equal((warned.object.spec as Record<string, unknown>).color, undefined);
    assert.deepEqual(e.ops.create(kl, undefined, body('i'), { dryRun: false, fieldValidation: 'Ignore' }).warnings, []);
  });

  test('dryRun validates and answers without storing', () => {
    const before = e.store.resourceVersion();
    e.ops.create(kl, undefined, link('dry'), { dryRun: true, fieldValidation: 'Strict' });
    assert.equal(e.store.resourceVersion(), before);
    assert.throws(() => e.ops.get({ type: kl, name: 'dry' }), apiError(404, 'NotFound', /kubelinks.kubelink.mandelsoft.org "dry" not found/));
  });

  test('strategic merge patch of a custom resource is 415, as on the real server', () => {
    e.ops.create(kl, undefined, link('a'), W);
    assert.throws(() => e.ops.patch({ type: kl, name: 'a' }, 'strategic', '{}', W), apiError(415, 'UnsupportedMediaType'));
    assert.throws(() => e.ops.patch({ type: kl, name: 'a' }, 'apply', '{}', W), apiError(415, 'UnsupportedMediaType', /server-side apply is not supported/));
  });

  test('finalizers defer deletion until the last one is removed', () => {
    e.ops.create(kl, undefined, { ...(link('a') as object), metadata: { name: 'a', finalizers: ['kubelink.mandelsoft.org/routes'] } } as JsonValue, W);
    const target = { type: kl, name: 'a' };
    const pending = e.ops.delete(target, undefined, W);
    assert.equal(pending.code, 202);
    assert.equal(pending.object.metadata.deletionTimestamp, '2025-06-01T12:00:00Z');
    assert.equal(pending.object.metadata.generation, 2);
    assert.ok(e.ops.get(target));
    e.ops.patch(target, 'merge', '{"metadata":{"finalizers":null}}', W);
    assert.throws(() => e.ops.get(target), apiError(404, 'NotFound'));
  });

  test('delete preconditions on uid and resourceVersion are enforced', () => {
    const created = e.ops.create(kl, undefined, link('a'), W).object;
    assert.throws(() => e.ops.delete({ type: kl, name: 'a' }, { preconditions: { uid: 'other' } }, W), apiError(409, 'Conflict', /Precondition failed: UID/));
    assert.equal(e.ops.delete({ type: kl, name: 'a' }, { preconditions: { uid: created.metadata.uid!, resourceVersion: created.metadata.resourceVersion! } }, W).code, 200);
  });

  test('deleting the CRD deletes its objects and stops serving the resource', () => {
    e.ops.create(kl, undefined, link('a'), W);
    e.ops.delete({ type: e.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions'), name: 'kubelinks.kubelink.mandelsoft.org' }, undefined, W);
    assert.equal(e.registry.find('kubelink.mandelsoft.org', 'v1alpha1', 'kubelinks'), undefined);
    assert.deepEqual(e.store.list('kubelink.mandelsoft.org/kubelinks'), []);
  });

  test('list pages with limit and continue', () => {
    for (const n of ['a', 'b', 'c']) e.ops.create(kl, undefined, link(n), W);
    const filter = parseListFilter(kl, undefined, null, null);
    const first = e.ops.list(kl, filter, { limit: 2 });
    assert.deepEqual(first.items.map((o) => o.metadata.name), ['a', 'b']);
    assert.equal(first.remainingItemCount, 1);
    const second = e.ops.list(kl, filter, { limit: 2, continueToken: first.continueToken });
    assert.deepEqual(second.items.map((o) => o.metadata.name), ['c']);
    assert.equal(second.continueToken, undefined);
  });
});

describe('built-in resources', () => {
  let e: Env;
  beforeEach(() => {
    e = env();
  });

  test('a namespaced object needs an existing namespace and the body namespace must match the URL', () => {
    const cm = e.type('', 'v1', 'configmaps');
    assert.throws(() => e.ops.create(cm, 'nowhere', { metadata: { name: 'x' } }, W), apiError(404, 'NotFound', /namespaces "nowhere" not found/));
    assert.throws(() => e.ops.create(cm, 'default', { metadata: { name: 'x', namespace: 'other' } }, W), apiError(400, 'BadRequest', /does not match the namespace/));
    assert.equal(e.ops.create(cm, 'default', { metadata: { name: 'x' } }, W).object.metadata.namespace, 'default');
  });

  test('deleting a namespace deletes everything in it', () => {
    e.ops.create(e.type('', 'v1', 'namespaces'), undefined, { metadata: { name: 'gone' } }, W);
    e.ops.create(e.type('', 'v1', 'secrets'), 'gone', { metadata: { name: 's' } }, W);
    e.ops.create(e.type('coordination.k8s.io', 'v1', 'leases'), 'gone', { metadata: { name: 'l' } }, W);
    e.ops.delete({ type: e.type('', 'v1', 'namespaces'), name: 'gone' }, undefined, W);
    assert.deepEqual(e.store.list('/secrets', 'gone'), []);
    assert.deepEqual(e.store.list('coordination.k8s.io/leases', 'gone'), []);
  });

  test('Secret stringData is folded into base64 data; type defaults to Opaque', () => {
    const s = e.ops.create(e.type('', 'v1', 'secrets'), 'default', { metadata: { name: 's' }, data: { a: 'eA==' }, stringData: { b: 'hello' } }, W).object;
    assert.deepEqual(s.data, { a: 'eA==', b: 'aGVsbG8=' });
    assert.equal(s.stringData, undefined);
    assert.equal(s.type, 'Opaque');
  });

  test('Services get a cluster IP from the range and keep it on updates that omit it', () => {
    const svc = e.type('', 'v1', 'services');
    const a = e.ops.create(svc, 'default', { metadata: { name: 'a' }, spec: { ports: [{ port: 80 }] } }, W).object;
    const b = e.ops.create(svc, 'default', { metadata: { name: 'b' }, spec: { ports: [{ port: 80 }] } }, W).object;
    assert.equal((a.spec as { clusterIP: string }).clusterIP, '10.96.0.2');
    assert.equal((b.spec as { clusterIP: string }).clusterIP, '10.96.0.3');
    const updated = e.ops.update({ type: svc, namespace: 'default', name: 'a' }, { metadata: { name: 'a' }, spec: { ports: [{ port: 81 }] } }, W).object;
    assert.equal((updated.spec as { clusterIP: string }).clusterIP, '10.96.0.2');
  });

  test('Namespaces get the kubernetes.io/metadata.name label and phase Active', () => {
    const ns = e.ops.get({ type: e.type('', 'v1', 'namespaces'), name: 'default' });
    assert.deepEqual(ns.metadata.labels, { 'kubernetes.io/metadata.name': 'default' });
    assert.deepEqual(ns.status, { phase: 'Active' });
  });

  test('generateName gets a random suffix; invalid names are 422', () => {
    const cm = e.type('', 'v1', 'configmaps');
    assert.equal(e.ops.create(cm, 'default', { metadata: { generateName: 'kl-' } }, W).object.metadata.name, 'kl-abcde');
    assert.throws(() => e.ops.create(cm, 'default', { metadata: { name: 'Bad_Name' } }, W), apiError(422, 'Invalid', /metadata.name: Invalid value: "Bad_Name"/));
  });

  test('an unconditional update (no resourceVersion) of a built-in succeeds', () => {
    const cm = e.type('', 'v1', 'configmaps');
    e.ops.create(cm, 'default', { metadata: { name: 'x' }, data: { a: '1' } }, W);
    const updated = e.ops.update({ type: cm, namespace: 'default', name: 'x' }, { metadata: { name: 'x' }, data: { a: '2' } }, W).object;
    assert.deepEqual(updated.data, { a: '2' });
  });

  test('a body of another kind is a 400', () => {
    assert.throws(() => e.ops.create(e.type('', 'v1', 'configmaps'), 'default', { kind: 'Secret', metadata: { name: 'x' } }, W), apiError(400, 'BadRequest'));
  });

  test('label and field selectors filter lists; an unsupported field label is a 400', () => {
    const cm = e.type('', 'v1', 'configmaps');
    e.ops.create(cm, 'default', { metadata: { name: 'a', labels: { app: 'kubelink' } } }, W);
    e.ops.create(cm, 'default', { metadata: { name: 'b' } }, W);
    const names = (labels: string | null, fields: string | null): string[] =>
      e.ops.list(cm, parseListFilter(cm, 'default', labels, fields)).items.map((o: KubeObject) => o.metadata.name!);
    assert.deepEqual(names('app=kubelink', null), ['a']);
    assert.deepEqual(names(null, 'metadata.name=b'), ['b']);
    assert.deepEqual(names('app notin (kubelink)', 'metadata.namespace=default'), ['b']);
    assert.throws(() => parseListFilter(cm, 'default', null, 'spec.x=1'), apiError(400, 'BadRequest', /field label not supported: spec.x/));
  });
});
