import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector } from '../../../src/main/k8s/leader-election.js';
import type { LeaseStore, StoredLease } from '../../../src/main/k8s/leader-election.js';
import type { LeaseView } from '../../../src/main/k8s/lease-decision.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** One Lease in memory with resourceVersion semantics (409 on a stale update or a second create). */
class MemoryLease {
  lease: StoredLease | undefined;
  private rv = 0;
  writes = 0;

  private conflict(): Error {
    return Object.assign(new Error('Conflict'), { code: 409 });
  }

  store(): LeaseStore {
    return {
      read: async () => (this.lease ? { resourceVersion: this.lease.resourceVersion, spec: { ...this.lease.spec } } : undefined),
      create: async (spec: LeaseView) => {
        if (this.lease) throw this.conflict();
        return this.write(spec);
      },
      update: async (previous: StoredLease, spec: LeaseView) => {
        if (!this.lease || this.lease.resourceVersion !== previous.resourceVersion) throw this.conflict();
        return this.write(spec);
      },
    };
  }

  private write(spec: LeaseView): StoredLease {
    this.writes++;
    this.lease = { resourceVersion: String(++this.rv), spec: { ...spec } };
    return { ...this.lease };
  }
}

/** A store whose calls can be made to fail or hang, as in a network partition. */
function breakable(store: LeaseStore): { store: LeaseStore; mode: 'ok' | 'fail' | 'hang' } {
  const control = { mode: 'ok' as 'ok' | 'fail' | 'hang', store: undefined as unknown as LeaseStore };
  const gate = async <T>(call: () => Promise<T>): Promise<T> => {
    if (control.mode === 'fail') throw new Error('connect ECONNREFUSED');
    if (control.mode === 'hang') return new Promise<T>(() => {});
    return call();
  };
  control.store = {
    read: () => gate(() => store.read()),
    create: (spec) => gate(() => store.create(spec)),
    update: (prev, spec) => gate(() => store.update(prev, spec)),
  };
  return control;
}

interface Candidate {
  elector: LeaderElector;
  log: string[];
}

function candidate(identity: string, store: LeaseStore, clock: FakeClock): Candidate {
  const log: string[] = [];
  const elector = new LeaderElector(store, {
    identity,
    clock,
    leaseDurationSeconds: 15,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: () => void log.push('started'),
    onStoppedLeading: () => void log.push('stopped'),
  });
  return { elector, log };
}

test('of two electors exactly one leads, and the leader renews every retry period', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const a = candidate('a', memory.store(), clock);
  const b = candidate('b', memory.store(), clock);
  a.elector.start();
  b.elector.start();
  await clock.advance(0);
  assert.equal([a, b].filter((c) => c.elector.leading).length, 1);
  const leader = a.elector.leading ? a : b;
  assert.equal(memory.lease?.spec.holderIdentity, leader.elector.identity);
  const renewedAt = memory.lease!.spec.renewTimeMs!;
  await clock.advance(60_000);
  assert.equal(memory.lease?.spec.holderIdentity, leader.elector.identity);
  assert.equal(memory.lease!.spec.renewTimeMs, renewedAt + 60_000, 'renewed at each 2 s tick');
  assert.equal([a, b].filter((c) => c.elector.leading).length, 1);
  assert.deepEqual(leader.log, ['started']);
  await a.elector.stop();
  await b.elector.stop();
});

test('a leader that stops releases the lease and the standby takes over within one retry period', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const a = candidate('a', memory.store(), clock);
  a.elector.start();
  await clock.advance(0);
  const b = candidate('b', memory.store(), clock);
  b.elector.start();
  await clock.advance(10_000);
  assert.equal(a.elector.leading, true);
  assert.equal(b.elector.leading, false);
  await a.elector.stop();
  assert.deepEqual(a.log, ['started', 'stopped']);
  assert.equal(memory.lease?.spec.holderIdentity, '', 'released');
  await clock.advance(2_000);
  assert.equal(b.elector.leading, true, 'took over without waiting 15 s for expiry');
  assert.equal(memory.lease?.spec.holderIdentity, 'b');
  assert.equal(memory.lease?.spec.leaseTransitions, 1);
  await b.elector.stop();
});

test('stop awaits onStoppedLeading before releasing the lease, so two leaders never act at once', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const order: string[] = [];
  const elector = new LeaderElector(memory.store(), {
    identity: 'a',
    clock,
    onStartedLeading: () => {},
    onStoppedLeading: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      order.push(`stopped while holder=${memory.lease?.spec.holderIdentity}`);
    },
  });
  elector.start();
  await clock.advance(0);
  await elector.stop();
  order.push(`after stop holder=${memory.lease?.spec.holderIdentity}`);
  assert.deepEqual(order, ['stopped while holder=a', 'after stop holder=']);
});

test('an elector stopped while its acquiring write is in flight releases the Lease that write won', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const inner = memory.store();
  let letCreateAnswer!: () => void;
  const createGate = new Promise<void>((resolve) => (letCreateAnswer = resolve));
  const store: LeaseStore = {
    ...inner,
    create: async (spec) => {
      await createGate;
      return inner.create(spec);
    },
  };
  const a = candidate('a', store, clock);
  a.elector.start();
  await clock.advance(0);
  const stopped = a.elector.stop();
  letCreateAnswer();
  await stopped;
  assert.equal(a.elector.leading, false);
  assert.deepEqual(a.log, []);
  assert.equal(memory.lease?.spec.holderIdentity, '', 'released: a standby need not wait for expiry');
  const b = candidate('b', memory.store(), clock);
  b.elector.start();
  await clock.advance(0);
  assert.equal(b.elector.leading, true);
  await b.elector.stop();
});

test('a leader cut off from the API steps down after the renew deadline; the standby takes over after expiry', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const cut = breakable(memory.store());
  const a = candidate('a', cut.store, clock);
  a.elector.start();
  await clock.advance(0);
  const b = candidate('b', memory.store(), clock);
  b.elector.start();
  await clock.advance(0);
  const lastRenew = memory.lease!.spec.renewTimeMs!;
  cut.mode = 'fail';
  await clock.advance(9_999 - (clock.now() - lastRenew));
  assert.equal(a.elector.leading, true, 'still inside the renew deadline');
  await clock.advance(1);
  assert.equal(a.elector.leading, false, 'stepped down 10 s after the last renewal');
  assert.equal(b.elector.leading, false, 'the lease has not expired yet');
  await clock.advance(lastRenew + 15_000 + 2_000 - clock.now());
  assert.equal(b.elector.leading, true, 'took over after expiry (15 s) within one retry period');
  assert.deepEqual(a.log, ['started', 'stopped']);
  cut.mode = 'ok';
  await clock.advance(4_000);
  assert.equal(a.elector.leading, false, 'the old leader follows once it can reach the API again');
  await a.elector.stop();
  await b.elector.stop();
});

test('a leader whose API calls hang still steps down at the renew deadline', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const cut = breakable(memory.store());
  const a = candidate('a', cut.store, clock);
  a.elector.start();
  await clock.advance(0);
  cut.mode = 'hang';
  await clock.advance(10_000);
  assert.equal(a.elector.leading, false);
  // stop() waits for the attempt in flight, which gives up after callTimeoutMs (2 s).
  const stopping = a.elector.stop();
  await clock.advance(2_000);
  await stopping;
});

test('a leader that finds the lease taken by someone else steps down at once', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const a = candidate('a', memory.store(), clock);
  a.elector.start();
  await clock.advance(0);
  memory.lease = { resourceVersion: '99', spec: { holderIdentity: 'intruder', renewTimeMs: clock.now(), leaseDurationSeconds: 15 } };
  await clock.advance(2_000);
  assert.equal(a.elector.leading, false);
  assert.deepEqual(a.log, ['started', 'stopped']);
  await a.elector.stop();
  assert.equal(memory.lease?.spec.holderIdentity, 'intruder', 'a non-holder does not release');
});

test('a renewal answered with 409 Conflict means someone else won: step down', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const store = memory.store();
  let conflictOnce = false;
  const racing: LeaseStore = {
    ...store,
    update: async (prev, spec) => {
      if (conflictOnce) {
        conflictOnce = false;
        throw Object.assign(new Error('Conflict'), { code: 409 });
      }
      return store.update(prev, spec);
    },
  };
  const a = candidate('a', racing, clock);
  a.elector.start();
  await clock.advance(0);
  conflictOnce = true;
  await clock.advance(2_000);
  assert.equal(a.elector.leading, false);
  await clock.advance(2_000);
  assert.equal(a.elector.leading, true, 'the lease still names us, so the next attempt renews it');
  assert.deepEqual(a.log, ['started', 'stopped', 'started']);
  await a.elector.stop();
});

test('whenLeading resolves on leadership and rejects on stop', async () => {
  const clock = new FakeClock();
  const memory = new MemoryLease();
  const a = candidate('a', memory.store(), clock);
  const b = candidate('b', memory.store(), clock);
  a.elector.start();
  const aLeads = a.elector.whenLeading();
  await clock.advance(0);
  await aLeads;
  b.elector.start();
  const bLeads = b.elector.whenLeading().then(
    () => 'leads',
    (err: Error) => err.message,
  );
  await clock.advance(2_000);
  await b.elector.stop();
  assert.equal(await bLeads, 'leader election stopped');
  await a.elector.stop();
  assert.equal(clock.pendingTimers, 0);
});

test("a standby whose clock runs a minute ahead does not take a lease its holder keeps renewing", async () => {
  const leaderClock = new FakeClock(1_700_000_000_000);
  const standbyClock = new FakeClock(1_700_000_060_000); // 60 s ahead: the holder's renewTime always looks stale
  const memory = new MemoryLease();
  const a = candidate('a', memory.store(), leaderClock);
  a.elector.start();
  await leaderClock.advance(0);
  const b = candidate('b', memory.store(), standbyClock);
  b.elector.start();
  for (let i = 0; i < 30; i++) {
    await leaderClock.advance(2_000);
    await standbyClock.advance(2_000);
  }
  assert.equal(a.elector.leading, true);
  assert.equal(b.elector.leading, false, 'judged by renewTime, the standby would have taken over at once');
  assert.equal(memory.lease?.spec.holderIdentity, 'a');
  // The holder hangs (its clock no longer advances, so it renews no more): the standby takes
  // over a lease duration after it last saw the Lease change.
  await standbyClock.advance(14_000);
  assert.equal(b.elector.leading, false);
  await standbyClock.advance(4_000);
  assert.equal(b.elector.leading, true);
  await b.elector.stop();
  await a.elector.stop();
});
