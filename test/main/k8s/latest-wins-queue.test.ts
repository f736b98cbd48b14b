import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestWinsQueue } from '../../../src/main/k8s/latest-wins-queue.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('values submitted while a task runs collapse into one run with the latest value', async () => {
  const runs: string[] = [];
  const gates: Array<ReturnType<typeof deferred>> = [];
  const queue = new LatestWinsQueue<string, string>(async (key, value) => {
    runs.push(`${key}=${value}`);
    const gate = deferred();
    gates.push(gate);
    await gate.promise;
  });
  const first = queue.submit('a', 'Down');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(runs, ['a=Down']);
  const second = queue.submit('a', 'Error');
  const third = queue.submit('a', 'Up');
  gates[0]!.resolve();
  await first;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(runs, ['a=Down', 'a=Up'], 'Error was superseded by Up before it ran');
  gates[1]!.resolve();
  await Promise.all([second, third]);
  assert.equal(queue.size, 0);
});

test('submissions in the same turn run once, with the last value', async () => {
  const runs: string[] = [];
  const queue = new LatestWinsQueue<string, number>(async (_key, value) => void runs.push(String(value)));
  await Promise.all([queue.submit('a', 1), queue.submit('a', 2), queue.submit('a', 3)]);
  assert.deepEqual(runs, ['3']);
});

test('different keys run concurrently, one key never does', async () => {
  let active = 0;
  let maxActivePerKey = 0;
  const perKey = new Map<string, number>();
  let maxActive = 0;
  const queue = new LatestWinsQueue<string, number>(async (key) => {
    active++;
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    maxActive = Math.max(maxActive, active);
    maxActivePerKey = Math.max(maxActivePerKey, ...perKey.values());
    await new Promise((r) => setImmediate(r));
    perKey.set(key, perKey.get(key)! - 1);
    active--;
  });
  const all: Promise<void>[] = [];
  for (let i = 0; i < 5; i++) {
    all.push(queue.submit('a', i), queue.submit('b', i));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  assert.equal(maxActive, 2);
  assert.equal(maxActivePerKey, 1);
});

test('a failing task rejects the submissions it covered and the key keeps working', async () => {
  let fail = true;
  const queue = new LatestWinsQueue<string, number>(async () => {
    if (fail) throw new Error('boom');
  });
  await assert.rejects(queue.submit('a', 1), /boom/);
  fail = false;
  await queue.submit('a', 2);
});

test('idle waits for everything in flight, including values queued meanwhile', async () => {
  const done: number[] = [];
  const queue = new LatestWinsQueue<string, number>(async (_k, v) => {
    await new Promise((r) => setImmediate(r));
    done.push(v);
  });
  void queue.submit('a', 1);
  await new Promise((r) => setImmediate(r));
  void queue.submit('a', 2);
  await queue.idle();
  assert.deepEqual(done, [1, 2]);
});
