import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshName, toMeshName } from '../../../src/main/dns/name-rewrite.js';
import { AnswerCache } from '../../../src/main/dns/answer-cache.js';

test('a mesh name splits into the part to ask and the cluster; the longest cluster name wins; case is kept in the part', () => {
  const clusters = new Set(['c2', 'east', 'c2.east']);
  const is = (c: string) => clusters.has(c);
  assert.deepEqual(parseMeshName('Echo.Default.svc.C2.kubelink.', 'kubelink', is), { kind: 'cluster', cluster: 'c2', rest: 'Echo.Default.svc' });
  assert.deepEqual(parseMeshName('echo.default.svc.c2.east.kubelink', 'kubelink', is), { kind: 'cluster', cluster: 'c2.east', rest: 'echo.default.svc' });
  assert.deepEqual(parseMeshName('c2.kubelink', 'kubelink', is), { kind: 'cluster', cluster: 'c2', rest: '' });
  assert.deepEqual(parseMeshName('x.c9.kubelink', 'kubelink', is), { kind: 'apex' });
  assert.deepEqual(parseMeshName('KUBELINK.', 'kubelink', is), { kind: 'apex' });
  assert.deepEqual(parseMeshName('c2.notkubelink', 'kubelink', is), { kind: 'outside' });
  assert.deepEqual(parseMeshName('a.c2.mesh.example', 'mesh.example', is), { kind: 'cluster', cluster: 'c2', rest: 'a' });
});

test('answer names under the cluster domain map into the mesh; others stay as they are', () => {
  assert.equal(toMeshName('echo.default.svc.cluster.local', 'cluster.local', 'c2.kubelink'), 'echo.default.svc.c2.kubelink');
  assert.equal(toMeshName('cluster.local', 'cluster.local', 'c2.kubelink'), 'c2.kubelink');
  assert.equal(toMeshName('www.example.com', 'cluster.local', 'c2.kubelink'), 'www.example.com');
  assert.equal(toMeshName('notcluster.local', 'cluster.local', 'c2.kubelink'), 'notcluster.local');
});

test('the answer cache holds at most maxEntries, dropping the least recently used', () => {
  const cache = new AnswerCache({ maxEntries: 2, maxTtlSeconds: 3600 }, () => 0);
  const answer = (ip: string) => ({ rcode: 0, authoritative: false, answers: [{ type: 'A' as const, name: 'a', ttl: 60, data: ip }], authorities: [], additionals: [] });
  cache.put('a', answer('1.1.1.1'));
  cache.put('b', answer('2.2.2.2'));
  assert.ok(cache.get('a'));
  cache.put('c', answer('3.3.3.3'));
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b'), undefined, 'b was the least recently used');
  assert.ok(cache.get('a') && cache.get('c'));
  cache.put('z', { ...answer('4.4.4.4'), answers: [{ type: 'A', name: 'z', ttl: 0, data: '4.4.4.4' }] });
  assert.equal(cache.get('z'), undefined, 'TTL 0 is not cached');
});
