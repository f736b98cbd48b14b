import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decideLease,
  leaseAvailable,
  leaseSpecFor,
  releasedLeaseSpec,
  renewDeadlinePassed,
  validateTimings,
} from '../../../src/main/k8s/lease-decision.js';

const NOW = 1_000_000;

test('an absent lease is created', () => {
  assert.deepEqual(decideLease(undefined, 'me', NOW), { kind: 'create' });
});

test('a lease we hold is renewed, even when it looks expired', () => {
  assert.deepEqual(decideLease({ holderIdentity: 'me', renewTimeMs: 0, leaseDurationSeconds: 15 }, 'me', NOW), { kind: 'renew' });
});

test('a lease held by another and renewed in time is followed until renewTime + duration', () => {
  const lease = { holderIdentity: 'other', renewTimeMs: NOW - 5_000, leaseDurationSeconds: 15 };
  assert.deepEqual(decideLease(lease, 'me', NOW), { kind: 'follow', holder: 'other', expiresAtMs: NOW + 10_000 });
});

test('a lease is expired only once renewTime + leaseDurationSeconds lies before now', () => {
  const lease = { holderIdentity: 'other', renewTimeMs: NOW - 15_000, leaseDurationSeconds: 15 };
  assert.equal(leaseAvailable(lease, NOW), false, 'exactly at expiry: still held');
  assert.equal(leaseAvailable(lease, NOW + 1), true);
  assert.deepEqual(decideLease(lease, 'me', NOW + 1), { kind: 'acquire', previousHolder: 'other' });
});

test('a released lease (empty holder) is taken over at once', () => {
  const lease = { holderIdentity: '', renewTimeMs: NOW, leaseDurationSeconds: 1 };
  assert.deepEqual(decideLease(lease, 'me', NOW), { kind: 'acquire', previousHolder: undefined });
});

test('a lease without renewTime held by someone counts as expired', () => {
  assert.equal(decideLease({ holderIdentity: 'other', leaseDurationSeconds: 15 }, 'me', NOW).kind, 'acquire');
});

test('create starts with no transitions; acquire counts one; renew keeps acquireTime and transitions', () => {
  assert.deepEqual(leaseSpecFor({ kind: 'create' }, undefined, 'me', NOW, 15), {
    holderIdentity: 'me',
    leaseDurationSeconds: 15,
    acquireTimeMs: NOW,
    renewTimeMs: NOW,
    leaseTransitions: 0,
  });
  const held = { holderIdentity: 'other', leaseDurationSeconds: 15, acquireTimeMs: 5, renewTimeMs: 6, leaseTransitions: 3 };
  assert.deepEqual(leaseSpecFor({ kind: 'acquire', previousHolder: 'other' }, held, 'me', NOW, 15), {
    holderIdentity: 'me',
    leaseDurationSeconds: 15,
    acquireTimeMs: NOW,
    renewTimeMs: NOW,
    leaseTransitions: 4,
  });
  const mine = { ...held, holderIdentity: 'me' };
  assert.deepEqual(leaseSpecFor({ kind: 'renew' }, mine, 'me', NOW, 15), { ...mine, renewTimeMs: NOW });
});

test('a released lease has no holder and stays otherwise intact', () => {
  const held = { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTimeMs: 5, renewTimeMs: 6, leaseTransitions: 3 };
  assert.deepEqual(releasedLeaseSpec(held, NOW), { holderIdentity: '', leaseDurationSeconds: 1, acquireTimeMs: 5, renewTimeMs: NOW, leaseTransitions: 3 });
});

test('the renew deadline passes renewDeadlineMs after the last successful renewal', () => {
  assert.equal(renewDeadlinePassed(NOW, NOW + 9_999, 10_000), false);
  assert.equal(renewDeadlinePassed(NOW, NOW + 10_000, 10_000), true);
});

test('timings that cannot work are rejected naming the values', () => {
  assert.throws(() => validateTimings({ leaseDurationSeconds: 10, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }), /renewDeadlineMs \(10000\) must be less than leaseDurationSeconds \(10 s\)/);
  assert.throws(() => validateTimings({ leaseDurationSeconds: 15, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /must be greater than retryPeriodMs/);
  assert.throws(() => validateTimings({ leaseDurationSeconds: 0.5, renewDeadlineMs: 200, retryPeriodMs: 100 }), /leaseDurationSeconds must be an integer >= 1/);
  assert.doesNotThrow(() => validateTimings({ leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }));
});

test('with an observation time, expiry counts from when the record was first seen, not from the holder-written renewTime', () => {
  const lease = { holderIdentity: 'other', renewTimeMs: NOW - 3_600_000, leaseDurationSeconds: 15 };
  assert.equal(decideLease(lease, 'me', NOW, NOW - 5_000).kind, 'follow', 'seen 5 s ago: still held however old renewTime looks');
  assert.equal(decideLease(lease, 'me', NOW, NOW - 15_001).kind, 'acquire');
  const future = { holderIdentity: 'other', renewTimeMs: NOW + 3_600_000, leaseDurationSeconds: 15 };
  assert.equal(decideLease(future, 'me', NOW, NOW - 15_001).kind, 'acquire', 'a renewTime in the future does not extend it');
});
