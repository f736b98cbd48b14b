import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tunnelPeerChanged } from '../../src/shared/tunnel-peer.js';

const peer = { endpointHost: 'c2.example', endpointPort: 8088, clusterAddress: 0xc0a8000c };

test('host, port and cluster address name the peer; nothing else does', () => {
  assert.equal(tunnelPeerChanged(peer, { ...peer }), false);
  assert.equal(tunnelPeerChanged(peer, { ...peer, endpointHost: 'c3.example' }), true);
  assert.equal(tunnelPeerChanged(peer, { ...peer, endpointPort: 8089 }), true, 'a new port is a new peer for the shards too');
  assert.equal(tunnelPeerChanged(peer, { ...peer, clusterAddress: 0xc0a8000d }), true);
  assert.equal(tunnelPeerChanged(peer, { ...peer, serviceCidr: { network: 1, prefixLength: 8 } } as typeof peer), false);
});
