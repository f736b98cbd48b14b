import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COUNTERS_PER_BLOCK, COUNTER_DESCRIPTORS, Counter, CounterBlocks, FrameMalformedCounter, inboundDropCounter } from '../../src/shared/counters.js';
import { FRAME_MALFORMED_REASONS } from '../../src/shared/frame-codec.js';
import { INBOUND_DROP_REASONS, InboundDrop } from '../../src/shared/inbound-filter.js';

test('every slot of a block has exactly one descriptor, in slot order', () => {
  assert.equal(COUNTER_DESCRIPTORS.length, COUNTERS_PER_BLOCK);
  assert.deepEqual(COUNTER_DESCRIPTORS.map((d) => d.index), Array.from({ length: COUNTERS_PER_BLOCK }, (_, i) => i));
  const keys = COUNTER_DESCRIPTORS.map((d) => `${d.metric}{${d.reason ?? ''}}`);
  assert.equal(new Set(keys).size, keys.length, 'no metric/label pair twice');
  for (const d of COUNTER_DESCRIPTORS) assert.match(d.metric, /^kubelink_[a-z_]+_total$/);
});

test('drop and malformed reasons map to slots labelled with their names', () => {
  for (const [i, reason] of INBOUND_DROP_REASONS.entries()) {
    const descriptor = COUNTER_DESCRIPTORS[inboundDropCounter(i + 1)]!;
    assert.equal(descriptor.reason, reason);
    assert.equal(descriptor.metric, 'kubelink_dropped_packets_total');
  }
  assert.equal(COUNTER_DESCRIPTORS[inboundDropCounter(InboundDrop.spoofedSource)]!.reason, 'spoofed-source');
  for (const reason of FRAME_MALFORMED_REASONS) {
    assert.deepEqual(COUNTER_DESCRIPTORS[FrameMalformedCounter[reason]], {
      index: FrameMalformedCounter[reason], metric: 'kubelink_malformed_frames_total', help: COUNTER_DESCRIPTORS[FrameMalformedCounter[reason]]!.help, reason,
    });
  }
  assert.equal(COUNTER_DESCRIPTORS[Counter.ringFullDrops]!.reason, 'ring-full');
  assert.equal(COUNTER_DESCRIPTORS[Counter.tunRxPackets]!.metric, 'kubelink_tun_rx_packets_total');
});

test('offload counters: super-packets read and written, their segments, software segments, bad-offload drops', () => {
  assert.equal(COUNTER_DESCRIPTORS[Counter.tunRxOffloadPackets]!.metric, 'kubelink_tun_rx_offload_packets_total');
  assert.equal(COUNTER_DESCRIPTORS[Counter.tunRxOffloadSegments]!.metric, 'kubelink_tun_rx_offload_segments_total');
  assert.equal(COUNTER_DESCRIPTORS[Counter.tunTxOffloadPackets]!.metric, 'kubelink_tun_tx_offload_packets_total');
  assert.equal(COUNTER_DESCRIPTORS[Counter.tunnelTxSoftwareSegments]!.metric, 'kubelink_tunnel_tx_software_segments_total');
  assert.equal(COUNTER_DESCRIPTORS[Counter.badOffloadDrops]!.reason, 'bad-offload');
  assert.equal(COUNTER_DESCRIPTORS[FrameMalformedCounter['bad-offload']]!.metric, 'kubelink_malformed_frames_total');
});

test('each thread writes its own block and the reader sees totals across blocks', () => {
  const sab = CounterBlocks.allocate(3);
  const writerA = new CounterBlocks(sab).block(0);
  const writerB = new CounterBlocks(sab).block(2);
  writerA[Counter.tunRxPackets]! += 2;
  writerA[Counter.tunRxBytes]! += 3000;
  writerB[Counter.tunRxPackets]!++;
  writerB[FrameMalformedCounter.oversize]!++;
  const reader = new CounterBlocks(sab);
  assert.equal(reader.blockCount, 3);
  assert.equal(reader.value(0, Counter.tunRxPackets), 2);
  assert.equal(reader.value(1, Counter.tunRxPackets), 0);
  assert.equal(reader.total(Counter.tunRxPackets), 3);
  assert.equal(reader.total(Counter.tunRxBytes), 3000);
  assert.equal(reader.total(FrameMalformedCounter.oversize), 1);
  assert.equal(writerA.length, COUNTERS_PER_BLOCK);
});

test('byte counters stay exact far beyond 2^32', () => {
  const block = new CounterBlocks(CounterBlocks.allocate(1)).block(0);
  block[Counter.tunnelTxBytes] = 2 ** 40;
  block[Counter.tunnelTxBytes]! += 1500;
  assert.equal(new CounterBlocks(block.buffer as SharedArrayBuffer).total(Counter.tunnelTxBytes), 2 ** 40 + 1500);
});

test('block indices and buffer sizes are checked', () => {
  assert.throws(() => CounterBlocks.allocate(0), RangeError);
  assert.throws(() => new CounterBlocks(new SharedArrayBuffer(12)), RangeError);
  const blocks = new CounterBlocks(CounterBlocks.allocate(2));
  assert.throws(() => blocks.block(2), RangeError);
  assert.throws(() => blocks.value(-1, 0), RangeError);
});
