import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iperfClientArgs, parseIperfJson } from '../../loadtest/lab/iperf.js';

test('a TCP result is the receiver\'s throughput with the sender\'s retransmits', () => {
  const r = parseIperfJson(JSON.stringify({ end: { sum_sent: { bits_per_second: 3e9, retransmits: 7 }, sum_received: { bits_per_second: 2.9e9 } } }));
  assert.deepEqual(r, { bitsPerSecond: 2.9e9, sentBitsPerSecond: 3e9, retransmits: 7 });
});

test('a UDP result of iperf3 3.12 reports what arrived and the loss, not the sending rate', () => {
  const json = {
    end: {
      sum: { bits_per_second: 198e6, lost_percent: 33.8 },
      sum_sent: { bits_per_second: 198e6, lost_percent: 0 },
      sum_received: { bits_per_second: 131e6, lost_percent: 33.8 },
    },
  };
  const r = parseIperfJson(JSON.stringify(json));
  assert.equal(r.bitsPerSecond, 131e6);
  assert.equal(r.lostPercent, 33.8);
});

test('iperf3\'s own error text is the error', () => {
  assert.throws(() => parseIperfJson(JSON.stringify({ error: 'the server is busy running a test' })), /iperf3: the server is busy/);
});

test('client flags follow the options: UDP with a bitrate, reverse, streams', () => {
  assert.deepEqual(iperfClientArgs('100.64.16.10', { durationSec: 5, streams: 4, udp: true, bitrate: '1G', reverse: true, port: 5301 }), [
    'iperf3', '-c', '100.64.16.10', '-p', '5301', '-t', '5', '-P', '4', '-J', '--connect-timeout', '5000', '-R', '-u', '-b', '1G',
  ]);
});
