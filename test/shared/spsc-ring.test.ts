import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RECORD_BYTES, MAX_RECORD_HEAD_BYTES, MAX_RECORD_TAG, RING_HEADER_BYTES, RING_HEADER_WORD, SpscRing, type RecordHandler } from '../../src/shared/spsc-ring.js';

interface Received {
  bytes: number[];
  tag: number;
  offset: number;
}

/** Collects copies of the records it is handed. */
class Collector implements RecordHandler {
  readonly records: Received[] = [];
  onRecord(data: Uint8Array, offset: number, length: number, tag: number): void {
    this.records.push({ bytes: [...data.subarray(offset, offset + length)], tag, offset });
  }
}

function bytesOf(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

function newRing(capacityBytes: number): { sab: SharedArrayBuffer; producer: SpscRing; consumer: SpscRing } {
  const sab = SpscRing.allocate(capacityBytes);
  return { sab, producer: new SpscRing(sab), consumer: new SpscRing(sab) };
}

function headerWord(sab: SharedArrayBuffer, word: number): number {
  return Atomics.load(new Int32Array(sab, 0, RING_HEADER_BYTES / 4), word) >>> 0;
}

test('records of varied sizes and source alignments come out in order and intact across many wraps', () => {
  const { sab, producer, consumer } = newRing(1024);
  const expected: { bytes: number[]; tag: number }[] = [];
  const source = new Uint8Array(400 + 8);
  let seed = 1;
  let written = 0;
  let checked = 0;
  const collector = new Collector();
  for (let round = 0; round < 3000; round++) {
    // Write a few records, then read some: head and tail chase each other around the ring.
    const writes = 1 + (round % 4);
    for (let w = 0; w < writes; w++) {
      const length = (seed * 37) % 300;
      const offset = seed % 8;
      source.set(bytesOf(length, seed), offset);
      const tag = seed % (MAX_RECORD_TAG + 1);
      if (producer.write(source, offset, length, tag)) {
        expected.push({ bytes: [...source.subarray(offset, offset + length)], tag });
        written++;
      }
      seed++;
    }
    producer.publish();
    consumer.read(collector, 1 + (round % 3));
    for (; checked < collector.records.length; checked++) {
      const got = collector.records[checked]!;
      const want = expected[checked]!;
      assert.equal(got.tag, want.tag, `tag of record ${checked}`);
      assert.deepEqual(got.bytes, want.bytes, `bytes of record ${checked}`);
    }
  }
  while (consumer.read(collector, 100) > 0);
  assert.equal(collector.records.length, written);
  assert.ok(written > 5000, `wrote ${written} records`);
  assert.ok(headerWord(sab, RING_HEADER_WORD.tail) > 100 * 1024, 'tail went around the ring many times');
});

test('payload sits at the address of its source modulo 8, so copies run word by word', () => {
  const { producer, consumer } = newRing(1024);
  const source = new Uint8Array(64);
  for (let offset = 0; offset < 8; offset++) producer.write(source, offset, 20, 0);
  producer.publish();
  const collector = new Collector();
  consumer.read(collector, 100);
  assert.deepEqual(collector.records.map((r) => (RING_HEADER_BYTES + r.offset) % 8), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('a full ring refuses records without blocking, counts each refusal, and accepts again once read', () => {
  const { producer, consumer } = newRing(256);
  const payload = bytesOf(56, 3); // 8 header + 56 = 64 bytes: 4 records fill 256
  let accepted = 0;
  while (producer.write(payload, 0, payload.length, 1)) accepted++;
  assert.equal(accepted, 4);
  assert.equal(producer.drops(), 1);
  assert.equal(producer.write(payload, 0, payload.length, 1), false);
  assert.equal(producer.drops(), 2);
  producer.publish();
  const collector = new Collector();
  assert.equal(consumer.read(collector, 1), 1);
  assert.equal(producer.write(payload, 0, payload.length, 1), true);
  assert.equal(producer.drops(), 2, 'drops are only counted for refusals');
  assert.equal(consumer.drops(), 2, 'the consumer sees the same counter');
});

test('reading an empty ring returns 0 and never calls the handler', () => {
  const { producer, consumer } = newRing(64);
  const handler: RecordHandler = { onRecord: () => assert.fail('handler called on an empty ring') };
  assert.equal(consumer.read(handler, 10), 0);
  assert.ok(consumer.isEmpty());
  producer.write(bytesOf(4, 1), 0, 4, 0);
  assert.ok(consumer.isEmpty(), 'staged records stay invisible until publish');
  assert.equal(consumer.read(handler, 10), 0);
});

test('records that exactly fill the ring, or exactly reach its end, need no wrap marker', () => {
  const { sab, producer, consumer } = newRing(64);
  const collector = new Collector();
  const whole = bytesOf(56, 9); // 8 + 56 = 64 = the whole ring
  assert.ok(producer.write(whole, 0, 56, 7));
  assert.equal(producer.write(bytesOf(1, 1), 0, 1, 7), false, 'nothing fits beside it');
  producer.publish();
  assert.equal(consumer.read(collector, 10), 1);
  assert.deepEqual(collector.records[0]!.bytes, [...whole]);
  // Now at position 64 (index 0): 24 + 40 = 64 bytes end exactly at the end again.
  assert.ok(producer.write(bytesOf(16, 2), 0, 16, 1));
  assert.ok(producer.write(bytesOf(32, 3), 0, 32, 2));
  producer.publish();
  assert.equal(headerWord(sab, RING_HEADER_WORD.head), 128);
  assert.equal(consumer.read(collector, 10), 2);
  assert.deepEqual(collector.records.map((r) => r.tag), [7, 1, 2]);
  assert.deepEqual(collector.records.map((r) => r.offset), [8, 8, 32]);
});

test('a record that does not fit before the end is written after a wrap marker at index 0', () => {
  const { sab, producer, consumer } = newRing(64);
  const collector = new Collector();
  producer.write(bytesOf(32, 1), 0, 32, 1); // 40 bytes: 24 left before the end
  producer.publish();
  consumer.read(collector, 10);
  assert.ok(producer.write(bytesOf(24, 2), 0, 24, 2)); // 32 bytes: wraps
  producer.publish();
  assert.equal(headerWord(sab, RING_HEADER_WORD.head), 64 + 32, 'head skipped the 24 bytes before the end');
  assert.equal(consumer.read(collector, 10), 1);
  assert.equal(collector.records[1]!.offset, 8);
  assert.deepEqual(collector.records[1]!.bytes, [...bytesOf(24, 2)]);
});

test('publish signals only when the ring turns from empty to non-empty', () => {
  const { producer, consumer } = newRing(1024);
  const collector = new Collector();
  assert.equal(consumer.signalValue(), 0);
  producer.write(bytesOf(10, 1), 0, 10, 0);
  producer.publish();
  assert.equal(consumer.signalValue(), 1);
  producer.write(bytesOf(10, 2), 0, 10, 0);
  producer.publish();
  assert.equal(consumer.signalValue(), 1, 'ring was not empty: no second signal');
  producer.publish();
  assert.equal(consumer.signalValue(), 1, 'an empty publish does nothing');
  consumer.read(collector, 100);
  producer.write(bytesOf(10, 3), 0, 10, 0);
  producer.publish();
  assert.equal(consumer.signalValue(), 2);
});

test('publish signals when the first record after an empty ring needed a wrap marker', () => {
  // The classic bug: comparing the tail with the head after the marker finds "not empty".
  const { producer, consumer } = newRing(64);
  const collector = new Collector();
  producer.write(bytesOf(40, 1), 0, 40, 0); // 48 bytes, 16 left before the end
  producer.publish();
  consumer.read(collector, 10);
  const before = consumer.signalValue();
  assert.ok(producer.write(bytesOf(20, 2), 0, 20, 0)); // 32 bytes: marker + record at 0
  producer.publish();
  assert.equal(consumer.signalValue(), before + 1);
});

test('consuming only a wrap marker publishes the tail, so the next publish still signals', () => {
  // The other classic bug: a tail left before the marker makes the producer think the
  // ring is not empty, so it never signals again. Build that state by hand: a published
  // head that covers nothing but a wrap marker.
  const { sab, producer: first, consumer } = newRing(64);
  const collector = new Collector();
  first.write(bytesOf(24, 1), 0, 24, 0); // 32 bytes
  first.publish();
  consumer.read(collector, 10);
  const words = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
  new Int32Array(sab, RING_HEADER_BYTES)[32 / 4] = 0xffff << 16; // wrap marker at 32
  Atomics.store(words, RING_HEADER_WORD.head, 64);
  assert.equal(consumer.read(collector, 10), 0, 'a marker is not a record');
  assert.equal(headerWord(sab, RING_HEADER_WORD.tail), 64, 'tail moved past the marker');
  assert.ok(consumer.isEmpty());
  const producer = new SpscRing(sab); // picks up head = 64 from the buffer
  const before = consumer.signalValue();
  producer.write(bytesOf(8, 2), 0, 8, 3);
  producer.publish();
  assert.equal(consumer.signalValue(), before + 1);
  assert.equal(consumer.read(collector, 10), 1);
  assert.equal(collector.records[1]!.tag, 3);
});

test('readHeld keeps the records\' space until release', () => {
  const { producer, consumer } = newRing(128);
  const payload = bytesOf(56, 4);
  assert.ok(producer.write(payload, 0, 56, 1));
  assert.ok(producer.write(payload, 0, 56, 2));
  producer.publish();
  const offsets: number[] = [];
  const handler: RecordHandler = { onRecord: (_data, offset) => void offsets.push(offset) };
  assert.equal(consumer.readHeld(handler, 1), 1);
  assert.equal(consumer.readHeld(handler, 1), 1, 'a second readHeld continues after the held record');
  assert.equal(consumer.readHeld(handler, 1), 0);
  assert.equal(producer.write(payload, 0, 56, 3), false, 'held space is not free yet');
  assert.deepEqual([...consumer.data.subarray(offsets[0]!, offsets[0]! + 56)], [...payload], 'held view still valid');
  consumer.release();
  assert.ok(producer.write(payload, 0, 56, 3));
});

test('rings constructed with one shared signal word all bump it', () => {
  const signal = new Int32Array(new SharedArrayBuffer(8));
  const a = SpscRing.allocate(256);
  const b = SpscRing.allocate(256);
  const producerA = new SpscRing(a, { signal, signalIndex: 1 });
  const producerB = new SpscRing(b, { signal, signalIndex: 1 });
  const consumerA = new SpscRing(a, { signal, signalIndex: 1 });
  producerA.write(bytesOf(4, 1), 0, 4, 0);
  producerA.publish();
  producerB.write(bytesOf(4, 1), 0, 4, 0);
  producerB.publish();
  assert.equal(signal[1], 2);
  assert.equal(consumerA.signalValue(), 2);
  assert.equal(Atomics.load(new Int32Array(a, 0, RING_HEADER_BYTES / 4), RING_HEADER_WORD.signal), 0, 'own word untouched');
});

test('waitAsync resolves at once when the signal moved and on the next publish otherwise', async () => {
  const { producer, consumer } = newRing(256);
  const seen = consumer.signalValue();
  producer.write(bytesOf(4, 1), 0, 4, 0);
  producer.publish();
  assert.equal(await consumer.waitAsync(seen, 10_000), 'not-equal');
  consumer.read(new Collector(), 10);
  const waiting = consumer.waitAsync(consumer.signalValue(), 10_000);
  setImmediate(() => {
    producer.write(bytesOf(4, 2), 0, 4, 0);
    producer.publish();
  });
  assert.equal(await waiting, 'ok');
  assert.equal(consumer.waitSync(consumer.signalValue(), 1), 'timed-out');
});

test('a record of the largest size fits a ring sized by capacityFor at every position', () => {
  const capacity = SpscRing.capacityFor(MAX_RECORD_BYTES);
  assert.equal(capacity, 512 * 1024);
  const { producer, consumer } = newRing(capacity);
  const big = new Uint8Array(MAX_RECORD_BYTES + 8);
  const collector: RecordHandler = { onRecord: () => {} };
  for (let step = 0; step < 40; step++) {
    assert.ok(producer.write(big, step % 8, MAX_RECORD_BYTES, 1), `step ${step}`);
    producer.write(big, 0, 1000 * step, 1); // move the position around
    producer.publish();
    consumer.read(collector, 10);
  }
});

test('invalid capacities, lengths and tags are rejected', () => {
  assert.throws(() => SpscRing.byteLengthFor(1000), RangeError);
  assert.throws(() => SpscRing.byteLengthFor(8), RangeError);
  assert.throws(() => new SpscRing(new SharedArrayBuffer(RING_HEADER_BYTES + 100)), RangeError);
  const { producer } = newRing(64);
  assert.throws(() => producer.write(new Uint8Array(MAX_RECORD_BYTES + 10), 0, MAX_RECORD_BYTES + 1, 0), RangeError);
  assert.throws(() => producer.write(new Uint8Array(4), 0, 4, 0xffff), RangeError);
  assert.throws(() => producer.write(new Uint8Array(4), 0, 4, -1), RangeError);
  assert.throws(() => producer.write(new Uint8Array(4), 2, 4, 0), RangeError, 'beyond the source');
});

test('records longer than 64 KiB keep their exact length and content (length bits above 16 in the second header word)', () => {
  const { producer, consumer } = newRing(SpscRing.capacityFor(MAX_RECORD_BYTES));
  const lengths = [65535, 65536, 65545, 65537 + 7, 100_000, MAX_RECORD_BYTES, 3];
  const source = new Uint8Array(MAX_RECORD_BYTES + 8);
  const collector = new Collector();
  for (const [i, length] of lengths.entries()) {
    const offset = i % 8;
    source.set(bytesOf(length, i + 1), offset);
    assert.ok(producer.write(source, offset, length, i), `length ${length}`);
    producer.publish();
    assert.equal(consumer.read(collector, 10), 1);
    const got = collector.records[i]!;
    assert.equal(got.bytes.length, length);
    assert.equal(got.tag, i);
    assert.deepEqual(got.bytes, [...bytesOf(length, i + 1)], `content of the ${length}-byte record`);
  }
});

test('writeParts stores head then body as one record, with the body at its source alignment', () => {
  const { producer, consumer } = newRing(4096);
  const head = Uint8Array.of(9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const source = new Uint8Array(1600);
  const collector = new Collector();
  for (let offset = 0; offset < 8; offset++) {
    const body = bytesOf(1400 + offset, offset);
    source.set(body, offset);
    assert.ok(producer.writeParts(head, 0, 10, source, offset, body.length, offset + 1));
    producer.publish();
    assert.equal(consumer.read(collector, 10), 1);
    const got = collector.records[offset]!;
    assert.deepEqual(got.bytes, [...head, ...body]);
    assert.equal(got.tag, offset + 1);
    // Body address modulo 8 equals the source's: the fast, word-wise copy.
    assert.equal((got.offset + 10) & 7, (source.byteOffset + offset) & 7, `offset ${offset}`);
  }
  assert.ok(producer.writeParts(head, 3, 2, source, 0, 0, 0), 'a head without body');
  producer.publish();
  consumer.read(collector, 1);
  assert.deepEqual(collector.records[8]!.bytes, [6, 5]);
});

test('writeParts drops and counts when full, and rejects heads, bodies and tags out of range', () => {
  const { producer } = newRing(64);
  const head = new Uint8Array(MAX_RECORD_HEAD_BYTES + 1);
  assert.equal(producer.writeParts(head, 0, 10, new Uint8Array(100), 0, 100, 0), false);
  assert.equal(producer.drops(), 1);
  assert.throws(() => producer.writeParts(head, 0, MAX_RECORD_HEAD_BYTES + 1, new Uint8Array(4), 0, 4, 0), RangeError);
  assert.throws(() => producer.writeParts(head, 60, 10, new Uint8Array(4), 0, 4, 0), RangeError, 'head beyond its source');
  assert.throws(() => producer.writeParts(head, 0, 10, new Uint8Array(MAX_RECORD_BYTES), 0, MAX_RECORD_BYTES, 0), RangeError, 'head + body too long');
  assert.throws(() => producer.writeParts(head, 0, 10, new Uint8Array(4), 2, 4, 0), RangeError, 'body beyond its source');
  assert.throws(() => producer.writeParts(head, 0, 10, new Uint8Array(4), 0, 4, 0xffff), RangeError);
});

test('usedBytes counts published records until they are read, and nothing for staged ones', () => {
  const { producer, consumer } = newRing(1024);
  assert.equal(consumer.usedBytes(), 0);
  producer.write(bytesOf(100, 1), 0, 100, 0);
  assert.equal(consumer.usedBytes(), 0, 'staged, not published');
  producer.publish();
  const used = consumer.usedBytes();
  assert.ok(used >= 100 && used < 100 + 32, `one 100-byte record takes ${used} bytes`);
  consumer.read({ onRecord: () => undefined }, 10);
  assert.equal(consumer.usedBytes(), 0);
});
