import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DATAPATH_OPTIONS, validateDatapathOptions } from '../../../src/main/broker/datapath.js';
import { MAX_LINKS_LIMIT, RouteTable } from '../../../src/shared/route-table.js';
import { MAX_RECORD_TAG } from '../../../src/shared/spsc-ring.js';

const options = { ...DEFAULT_DATAPATH_OPTIONS, ifname: 'kubelink', shards: 2, mtu: 1500 };

test('the defaults are valid', () => {
  assert.deepEqual(validateDatapathOptions(options), options);
});

test('a bad option is refused naming the option and the accepted range', () => {
  assert.throws(() => validateDatapathOptions({ ...options, batchPackets: 0 }), /datapath option batchPackets must be an integer in 1\.\.1024, got 0/);
  assert.throws(() => validateDatapathOptions({ ...options, shards: 1.5 }), /shards/);
  assert.throws(() => validateDatapathOptions({ ...options, ringBytes: 3000 }), /capacityBytes must be a power of two/);
});

test('link ids are limited alike by the data path, the route table and the ring tags', () => {
  assert.equal(MAX_LINKS_LIMIT, MAX_RECORD_TAG + 1);
  assert.doesNotThrow(() => validateDatapathOptions({ ...options, maxLinks: MAX_LINKS_LIMIT }));
  assert.throws(() => validateDatapathOptions({ ...options, maxLinks: MAX_LINKS_LIMIT + 1 }), /maxLinks/);
  assert.doesNotThrow(() => RouteTable.allocate({ capacityEntries: 1, maxLinks: MAX_LINKS_LIMIT }));
  assert.throws(() => RouteTable.allocate({ capacityEntries: 1, maxLinks: MAX_LINKS_LIMIT + 1 }), /link ids are ring tags/);
});
