// The DNS benchmark's flags: defaults, limits, and errors that name the flag and the value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDnsBenchArgs } from '../../bench/dns-bench-args.js';

test('defaults, --help, and values inside their limits', () => {
  assert.deepEqual(parseDnsBenchArgs([]), { runs: 3, count: 400, concurrency: 16, noResults: false });
  assert.equal(parseDnsBenchArgs(['--help']), 'help');
  assert.deepEqual(parseDnsBenchArgs(['--runs', '5', '--count', '10', '--concurrency', '128', '--no-results']), { runs: 5, count: 10, concurrency: 128, noResults: true });
});

test('a wrong value or flag is refused with the flag and the value', () => {
  assert.throws(() => parseDnsBenchArgs(['--runs', 'x']), /--runs "x": expected an integer 1\.\.10/);
  assert.throws(() => parseDnsBenchArgs(['--count', '9']), /--count 9: expected an integer 10\.\.5000/);
  assert.throws(() => parseDnsBenchArgs(['--concurrency', '0']), /--concurrency 0/);
  assert.throws(() => parseDnsBenchArgs(['--bogus']), /Unknown option '--bogus'/);
});
