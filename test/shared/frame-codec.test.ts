import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FRAME_MALFORMED_REASONS, FrameBatcher, FrameDecoder, type FrameMalformedReason, type FrameSink } from '../../src/shared/frame-codec.js';
import { BufferPool } from '../../src/shared/buffer-pool.js';
import { HELLO_BYTES, MAX_OFFLOAD_FRAME_PAYLOAD, OFFLOAD_FRAME_TYPE, encodeHello } from '../../src/shared/wire.js';
import { ipv4Packet, ipv6Packet } from '../fixtures/ip-fixtures.js';
import { payloadBytes, superPacketRecord, tcpv4Packet, vnetRecord } from '../fixtures/tcp-fixtures.js';

type Event = { kind: 'ip' | 'control' | 'offload'; bytes: Buffer } | { kind: 'malformed'; reason: FrameMalformedReason };

/** Records what the decoder hands out (copies: the views are only valid during the call). */
class RecordingSink implements FrameSink {
  readonly events: Event[] = [];
  onIpPacket(buf: Uint8Array, offset: number, length: number): void {
    this.events.push({ kind: 'ip', bytes: Buffer.from(buf.subarray(offset, offset + length)) });
  }
  onOffloadPacket(buf: Uint8Array, offset: number, length: number): void {
    this.events.push({ kind: 'offload', bytes: Buffer.from(buf.subarray(offset, offset + length)) });
  }
  onControl(buf: Uint8Array, offset: number, length: number): void {
    this.events.push({ kind: 'control', bytes: Buffer.from(buf.subarray(offset, offset + length)) });
  }
  onMalformed(reason: FrameMalformedReason): void {
    this.events.push({ kind: 'malformed', reason });
  }
}

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  out.set(payload, 2);
  return out;
}

function packet(length: number, last = 1): Buffer {
  return ipv4Packet({ source: '192.168.0.12', destination: `100.64.0.${last}`, length });
}

function hello(): Buffer {
  const buf = Buffer.alloc(HELLO_BYTES);
  encodeHello(buf, 0, { version: 1, capabilities: 0, clusterAddress: 0xc0a8000c, maxFramePayload: 65535 });
  return buf;
}

test('malformed reasons are a fixed list usable as metric labels', () => {
  assert.deepEqual(FRAME_MALFORMED_REASONS, ['empty', 'unknown-type', 'truncated', 'oversize', 'bad-offload', 'bad-hello-extension']);
});

test('a batch holds many frames back to back and decodes to the same payloads', () => {
  const batcher = new FrameBatcher();
  const payloads = [packet(20), packet(1400, 2), hello(), ipv6Packet(100), packet(576, 3)];
  for (const payload of payloads) assert.ok(batcher.append(payload, 0, payload.length));
  assert.equal(batcher.pendingFrames, payloads.length);
  const batch = batcher.take()!;
  assert.deepEqual(batch, Buffer.concat(payloads.map(frame)));
  const sink = new RecordingSink();
  assert.ok(new FrameDecoder({}, sink).push(batch));
  assert.deepEqual(sink.events.map((e) => e.kind), ['ip', 'ip', 'control', 'ip', 'ip']);
  assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.bytes : undefined)), payloads);
});

test('append refuses a frame that does not fit, and it fits once the batch was taken', () => {
  const batcher = new FrameBatcher({ batchBytes: 4000 });
  const payload = packet(1400);
  assert.ok(batcher.append(payload, 0, 1400));
  assert.ok(batcher.append(payload, 0, 1400));
  assert.equal(batcher.append(payload, 0, 1400), false);
  assert.equal(batcher.take()!.length, 2 * 1402);
  assert.ok(batcher.append(payload, 0, 1400));
  assert.equal(batcher.pendingBytes, 1402);
});

test('a frame of the largest size fits an empty batch even when batchBytes is smaller', () => {
  const batcher = new FrameBatcher({ batchBytes: 1000 });
  const big = Buffer.alloc(65535, 1);
  assert.ok(batcher.append(big, 0, big.length));
  assert.equal(batcher.take()!.length, 65537);
});

test('take returns nothing for an empty batch and buffers that later appends never change', () => {
  const batcher = new FrameBatcher({ batchBytes: 8192 });
  assert.equal(batcher.take(), undefined);
  const small = batcher.append(packet(100, 1), 0, 100) && batcher.take()!; // copied out
  batcher.append(packet(100, 2), 0, 100);
  const bigOnes: Buffer[] = [];
  for (let i = 0; i < 5; i++) batcher.append(packet(1400, 3), 0, 1400);
  bigOnes.push(batcher.take()!); // handed over whole
  for (let i = 0; i < 5; i++) batcher.append(packet(1400, 4), 0, 1400);
  assert.ok(small);
  assert.deepEqual(small, frame(packet(100, 1)));
  assert.deepEqual(bigOnes[0], Buffer.concat([frame(packet(100, 2)), ...Array.from({ length: 5 }, () => frame(packet(1400, 3)))]));
});

test('a released batch buffer is reused for a later batch, and a batch is never written before its release', () => {
  // 20 x 1402 bytes: over a quarter of the buffer, so the batch is handed out whole, not copied out.
  const PACKETS = 20;
  const pool = new BufferPool(4);
  const batcher = new FrameBatcher({ pool });
  for (let i = 0; i < PACKETS; i++) batcher.append(packet(1400, 1), 0, 1400);
  const inFlight = batcher.take()!;
  const expected = Buffer.from(inFlight);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < PACKETS; i++) batcher.append(packet(1400, 2 + round), 0, 1400);
    batcher.release(batcher.take()!);
  }
  assert.deepEqual(inFlight, expected, 'later batches did not touch the one still being written');
  assert.ok(pool.reused >= 2, `pool reused ${pool.reused} buffers`);
  batcher.release(inFlight);
  const reusedBefore = pool.reused;
  for (let i = 0; i < PACKETS; i++) batcher.append(packet(1400, 9), 0, 1400);
  assert.deepEqual(batcher.take(), Buffer.concat(Array.from({ length: PACKETS }, () => frame(packet(1400, 9)))));
  assert.equal(pool.reused, reusedBefore + 1);
});

test('payloads taken from shared memory at any alignment are copied intact', () => {
  const shared = new Uint8Array(new SharedArrayBuffer(4096));
  const payload = packet(1000);
  const batcher = new FrameBatcher();
  const expected: Buffer[] = [];
  for (let offset = 0; offset < 8; offset++) {
    shared.set(payload, offset);
    payload[100] = offset; // tell the copies apart
    shared[offset + 100] = offset;
    batcher.append(shared, offset, 1000);
    expected.push(frame(Buffer.from(shared.subarray(offset, offset + 1000))));
  }
  assert.deepEqual(batcher.take(), Buffer.concat(expected));
});

test('append rejects empty and oversized payloads', () => {
  const batcher = new FrameBatcher({ maxFramePayload: 1500 });
  assert.throws(() => batcher.append(Buffer.alloc(10), 0, 0), RangeError);
  assert.throws(() => batcher.append(Buffer.alloc(2000), 0, 1501), RangeError);
  assert.throws(() => new FrameBatcher({ maxFramePayload: 70000 }), RangeError);
});

test('a stream split at every possible byte decodes to the same frames, keeping only the partial frame', () => {
  const payloads = [packet(20), packet(300, 2), hello(), packet(40, 3)];
  const stream = Buffer.concat(payloads.map(frame));
  for (let cut = 0; cut <= stream.length; cut++) {
    const sink = new RecordingSink();
    const decoder = new FrameDecoder({}, sink);
    assert.ok(decoder.push(stream.subarray(0, cut)));
    let complete = 0;
    let at = 0;
    while (at + 2 <= cut && at + 2 + stream.readUInt16BE(at) <= cut) {
      at += 2 + stream.readUInt16BE(at);
      complete++;
    }
    assert.equal(sink.events.length, complete, `frames complete in the first ${cut} bytes`);
    assert.equal(decoder.bufferedBytes, cut - at, 'only the partial frame is kept');
    assert.ok(decoder.push(stream.subarray(cut)));
    assert.equal(decoder.bufferedBytes, 0);
    assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.bytes : e.reason)), payloads, `cut at ${cut}`);
  }
});

test('a stream fed one byte at a time decodes, including split length headers', () => {
  const payloads = [packet(60), hello(), packet(21 + 3, 9)];
  const stream = Buffer.concat(payloads.map(frame));
  const sink = new RecordingSink();
  const decoder = new FrameDecoder({}, sink);
  for (let i = 0; i < stream.length; i++) assert.ok(decoder.push(stream.subarray(i, i + 1)));
  assert.ok(decoder.push(Buffer.alloc(0)));
  assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.bytes : e.reason)), payloads);
});

test('empty, unknown and truncated frames are reported and skipped, and the stream stays in sync', () => {
  const good = packet(40);
  const stream = Buffer.concat([
    Buffer.from([0, 0]),                                                          // empty
    frame(Buffer.from([0x00, 1, 2])),                                             // unknown first byte
    frame(Buffer.from([0x3f, 1, 2])),                                             // control range, unknown type
    frame(Buffer.from([0x80, 1, 2])),                                             // neither IP nor control
    frame(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', length: 19 })), // IPv4 under 20 bytes
    frame(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', ihl: 4 })),     // IHL < 5
    frame(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', totalLengthField: 61 })), // claims more than the frame
    frame(ipv4Packet({ source: '1.1.1.1', destination: '2.2.2.2', totalLengthField: 50 })), // claims less
    frame(ipv6Packet(10, 20)),                                                    // IPv6 length mismatch
    frame(good),
  ]);
  for (const chunking of [stream.length, 3]) {
    const sink = new RecordingSink();
    const decoder = new FrameDecoder({}, sink);
    for (let at = 0; at < stream.length; at += chunking) assert.ok(decoder.push(stream.subarray(at, at + chunking)));
    assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.kind : e.reason)), [
      'empty', 'unknown-type', 'unknown-type', 'unknown-type', 'truncated', 'truncated', 'truncated', 'truncated', 'truncated', 'ip',
    ], `chunks of ${chunking}`);
    assert.deepEqual((sink.events[9] as { bytes: Buffer }).bytes, good);
  }
});

test('a frame longer than maxFramePayload ends the stream: push returns false from then on', () => {
  for (const chunking of [1, 1000]) {
    const sink = new RecordingSink();
    const decoder = new FrameDecoder({ maxFramePayload: 1500 }, sink);
    const stream = Buffer.concat([frame(packet(1500)), frame(Buffer.alloc(1501, 0x45)), frame(packet(20))]);
    let result = true;
    for (let at = 0; at < stream.length && result; at += chunking) result = decoder.push(stream.subarray(at, at + chunking));
    assert.equal(result, false, `chunks of ${chunking}`);
    assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.kind : e.reason)), ['ip', 'oversize']);
    assert.equal(decoder.push(frame(packet(20))), false);
    assert.equal(sink.events.length, 2, 'nothing is decoded after the stream was lost');
  }
});

// --- gso: offload frames and large frames ---

function largeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.alloc(6 + payload.length);
  out.writeUInt32BE(payload.length, 2);
  out.set(payload, 6);
  return out;
}

function offloadPayload(record: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(OFFLOAD_FRAME_TYPE), record]);
}

/** A TCPv4 super-packet record whose IP packet is `ipLength` bytes long. */
function superRecord(ipLength: number, seed = 1): Buffer {
  const packet = tcpv4Packet({ source: '192.168.0.12', destination: '100.64.0.1', payload: payloadBytes(ipLength - 40, seed), checksum: 'partial' });
  return superPacketRecord(packet, 1448);
}

function gsoDecoder(sink: RecordingSink): FrameDecoder {
  const decoder = new FrameDecoder({}, sink);
  decoder.enableGso();
  return decoder;
}

test('appendOffload frames a record as type 0x10 + record, with the u32 length escape above 65535 bytes', () => {
  const batcher = new FrameBatcher();
  const small = superRecord(3000);
  const largest = superRecord(65535, 2);
  assert.throws(() => batcher.appendOffload(small, 0, small.length), /enableGso/);
  batcher.enableGso();
  assert.ok(batcher.appendOffload(small, 0, small.length));
  assert.deepEqual(batcher.take(), frame(offloadPayload(small)));
  assert.ok(batcher.appendOffload(largest, 0, largest.length));
  assert.equal(1 + largest.length, MAX_OFFLOAD_FRAME_PAYLOAD);
  assert.deepEqual(batcher.take(), largeFrame(offloadPayload(largest)));
  assert.throws(() => batcher.appendOffload(Buffer.alloc(MAX_OFFLOAD_FRAME_PAYLOAD), 0, MAX_OFFLOAD_FRAME_PAYLOAD), RangeError);
});

test('offload and plain frames mix in one batch and decode to the same records and packets', () => {
  const batcher = new FrameBatcher({ batchBytes: 256 * 1024 });
  batcher.enableGso();
  const records = [superRecord(65535), superRecord(20_000, 3)];
  const plain = packet(1400);
  assert.ok(batcher.append(plain, 0, plain.length));
  for (const record of records) assert.ok(batcher.appendOffload(record, 0, record.length));
  assert.ok(batcher.append(hello(), 0, HELLO_BYTES));
  const sink = new RecordingSink();
  assert.ok(gsoDecoder(sink).push(batcher.take()!));
  assert.deepEqual(sink.events.map((e) => e.kind), ['ip', 'offload', 'offload', 'control']);
  assert.deepEqual((sink.events[1] as { bytes: Buffer }).bytes, records[0]);
  assert.deepEqual((sink.events[2] as { bytes: Buffer }).bytes, records[1]);
});

test('a gso stream split at every byte near the large-frame header and at random points decodes the same', () => {
  const pieces = [frame(packet(60)), largeFrame(offloadPayload(superRecord(65535))), frame(offloadPayload(superRecord(3000, 4))), largeFrame(Buffer.alloc(0)), frame(packet(40, 7))];
  const stream = Buffer.concat(pieces);
  const expected = ['ip', 'offload', 'offload', 'empty', 'ip'];
  const cuts = [...Array.from({ length: 80 }, (_, i) => i), 65_600, 65_605, 65_610, 68_630, 68_640, stream.length - 3];
  for (const cut of cuts) {
    const sink = new RecordingSink();
    const decoder = gsoDecoder(sink);
    assert.ok(decoder.push(stream.subarray(0, cut)));
    assert.ok(decoder.push(stream.subarray(cut)));
    assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.kind : e.reason)), expected, `cut at ${cut}`);
  }
  const sink = new RecordingSink();
  const decoder = gsoDecoder(sink);
  for (let at = 0; at < stream.length; at += 1000) assert.ok(decoder.push(stream.subarray(at, Math.min(stream.length, at + 1000))));
  assert.deepEqual((sink.events[1] as { bytes: Buffer }).bytes, superRecord(65535));
  const bytewise = new RecordingSink();
  const slow = gsoDecoder(bytewise);
  const head = stream.subarray(0, 200);
  for (let i = 0; i < head.length; i++) assert.ok(slow.push(head.subarray(i, i + 1)));
  assert.ok(slow.push(stream.subarray(200)));
  assert.deepEqual(bytewise.events.map((e) => ('bytes' in e ? e.kind : e.reason)), expected, 'one byte at a time');
});

test('before enableGso a zero length is an empty frame and an offload frame an unknown type', () => {
  const record = superRecord(3000);
  const sink = new RecordingSink();
  const decoder = new FrameDecoder({}, sink);
  assert.ok(decoder.push(Buffer.concat([Buffer.from([0, 0]), frame(offloadPayload(record)), frame(packet(40))])));
  assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.kind : e.reason)), ['empty', 'unknown-type', 'ip']);
  assert.throws(() => new FrameDecoder({}, { onIpPacket() {}, onControl() {}, onMalformed() {} }).enableGso(), /onOffloadPacket/);
});

test('enableGso from inside a callback applies to the rest of the same chunk (the hello, then large frames)', () => {
  const sink = new RecordingSink();
  let decoder: FrameDecoder;
  const enabling: RecordingSink = Object.assign(sink, {
    onControl(buf: Uint8Array, offset: number, length: number): void {
      RecordingSink.prototype.onControl.call(sink, buf, offset, length);
      decoder.enableGso();
    },
  });
  decoder = new FrameDecoder({}, enabling);
  const stream = Buffer.concat([frame(hello()), largeFrame(offloadPayload(superRecord(65535)))]);
  // Also with the hello itself split across chunks (it is then dispatched from the carried buffer).
  for (const cut of [stream.length, 5, 20]) {
    sink.events.length = 0;
    decoder = new FrameDecoder({}, enabling);
    assert.ok(decoder.push(stream.subarray(0, cut)));
    assert.ok(decoder.push(stream.subarray(cut)));
    assert.deepEqual(sink.events.map((e) => e.kind), ['control', 'offload'], `cut at ${cut}`);
  }
});

test('offload frames that fail the header checks are counted as bad-offload and skipped; the stream stays in sync', () => {
  const ipv4 = tcpv4Packet({ source: '192.168.0.12', destination: '100.64.0.1', payload: payloadBytes(3000), checksum: 'partial' });
  const bad = [
    Buffer.of(OFFLOAD_FRAME_TYPE),
    offloadPayload(Buffer.alloc(5)),
    offloadPayload(vnetRecord({ flags: 2 }, ipv4)),
    offloadPayload(superPacketRecord(ipv4, 10)),
    offloadPayload(vnetRecord({ flags: 1, gsoType: 4, gsoSize: 1448, csumStart: 20, csumOffset: 16 }, ipv4)),
  ];
  const sink = new RecordingSink();
  assert.ok(gsoDecoder(sink).push(Buffer.concat([...bad.map(frame), frame(packet(40))])));
  assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.kind : e.reason)), [...bad.map(() => 'bad-offload'), 'ip']);
});

test('a large frame above the offload maximum ends the stream', () => {
  const sink = new RecordingSink();
  const decoder = gsoDecoder(sink);
  const header = Buffer.alloc(6);
  header.writeUInt32BE(MAX_OFFLOAD_FRAME_PAYLOAD + 1, 2);
  assert.equal(decoder.push(Buffer.concat([frame(packet(40)), header.subarray(0, 4)])), true);
  assert.equal(decoder.push(header.subarray(4)), false);
  assert.deepEqual(sink.events.map((e) => ('bytes' in e ? e.kind : e.reason)), ['ip', 'oversize']);
});

test('the first frame of a batch is placed at its source address modulo 8 (one aligned copy out of shared memory)', () => {
  const shared = new Uint8Array(new SharedArrayBuffer(70_000));
  const record = superRecord(20_000);
  for (let skew = 0; skew < 8; skew++) {
    shared.set(record, 16 + skew);
    const batcher = new FrameBatcher();
    batcher.enableGso();
    assert.ok(batcher.appendOffload(shared, 16 + skew, record.length));
    const batch = batcher.take()!;
    assert.equal((batch.byteOffset + 3) & 7, (16 + skew) & 7, `skew ${skew}`);
    assert.deepEqual(batch, frame(offloadPayload(record)));
  }
});
