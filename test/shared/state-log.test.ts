import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateLog } from '../../src/shared/state-log.js';

test('a state is reported once while it lasts, again when it comes back', () => {
  const log = new StateLog();
  assert.equal(log.changed('a', ['Down', 'refused']), true);
  assert.equal(log.changed('a', ['Down', 'refused']), false, 'the same state again');
  assert.equal(log.changed('b', ['Down', 'refused']), true, 'per key');
  assert.equal(log.changed('a', undefined), true, 'gone');
  assert.equal(log.changed('a', undefined), false);
  assert.equal(log.changed('a', ['Down', 'refused']), true, 'back');
});

test('retain forgets removed keys, so they are reported afresh', () => {
  const log = new StateLog();
  log.changed('a', 1);
  log.changed('b', 1);
  log.retain(new Set(['b']));
  assert.equal(log.changed('a', 1), true);
  assert.equal(log.changed('b', 1), false);
});
