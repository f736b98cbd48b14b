import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TunWriter } from '../../src/workers/tun-output.js';
import { COUNTERS_PER_BLOCK, Counter } from '../../src/shared/counters.js';
import { VNET_HDR_BYTES } from '../../src/shared/gso-header.js';
import type { NativeAddon } from '../../src/shared/native.js';

interface Call {
  fd: number;
  packets: number[][];
  prefix: number[] | undefined;
}

/** Records writeBatch calls (copies of each packet as it would be written) instead of writing. */
function recordingNative(written = (count: number) => count): { native: NativeAddon; calls: Call[] } {
  const calls: Call[] = [];
  const native = {
    writeBatch(fd: number, buf: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number, prefix?: Uint8Array): number {
      const packets = Array.from({ length: count }, (_, i) => [...buf.subarray(offsets[i]!, offsets[i]! + lengths[i]!)]);
      calls.push({ fd, packets, prefix: prefix && [...prefix] });
      return written(count);
    },
  } as unknown as NativeAddon;
  return { native, calls };
}

test('packets of one chunk go out in one write at end, in order; a kind change or another buffer flushes first', () => {
  const { native, calls } = recordingNative();
  const counters = new Float64Array(COUNTERS_PER_BLOCK);
  const tun = new TunWriter(7, counters, true, native);
  const chunk = Uint8Array.from({ length: 40 }, (_, i) => i);
  const other = Uint8Array.from([100, 101, 102]);
  tun.begin(chunk);
  tun.packet(chunk, 0, 2);
  tun.packet(chunk, 4, 3);
  assert.equal(calls.length, 0, 'nothing is written before end or a flush');
  // A record (with its own header) cannot share a writev batch with prefixed packets.
  const record = new Uint8Array(VNET_HDR_BYTES + 2);
  record.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9]);
  chunk.set(record, 20);
  tun.record(chunk, 20, record.length);
  // A view into another buffer (the decoder's, for a frame that spanned chunks) is written at once.
  tun.packet(other, 1, 2);
  tun.end();
  assert.deepEqual(calls.map((c) => [c.packets, c.prefix === undefined ? 'no prefix' : c.prefix.length]), [
    [[[0, 1], [4, 5, 6]], VNET_HDR_BYTES],
    [[[...record]], 'no prefix'],
    [[[101, 102]], VNET_HDR_BYTES],
  ]);
  assert.ok(calls.every((c) => c.fd === 7));
  assert.equal(counters[Counter.tunTxPackets], 4);
  assert.equal(counters[Counter.tunTxBytes], 2 + 3 + 2 + 2);
  assert.equal(counters[Counter.tunTxOffloadPackets], 0, 'gso_type 0 is no super-packet');
});

test('without vnetHdr plain packets get no prefix; refused and failed writes are counted, never thrown', () => {
  let fail = false;
  const { native, calls } = recordingNative((count) => {
    if (fail) throw Object.assign(new Error('bad fd'), { code: 'EBADF' });
    return count - 1;
  });
  const counters = new Float64Array(COUNTERS_PER_BLOCK);
  const tun = new TunWriter(3, counters, false, native);
  const chunk = new Uint8Array(8);
  tun.begin(chunk);
  tun.packet(chunk, 0, 4);
  tun.packet(chunk, 4, 4);
  tun.end();
  assert.equal(calls[0]!.prefix, undefined);
  assert.equal(counters[Counter.tunTxPackets], 1);
  assert.equal(counters[Counter.tunWriteErrors], 1);
  fail = true;
  tun.begin(chunk);
  tun.packet(chunk, 0, 4);
  assert.doesNotThrow(() => tun.end());
  assert.equal(counters[Counter.tunWriteErrors], 2);
});
