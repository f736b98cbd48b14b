/// <reference lib="es2024.sharedmemory" />
// Single-producer/single-consumer ring of variable-length records in a SharedArrayBuffer.
// It carries IP packets between the TUN threads and the shard workers: one thread writes,
// one thread reads, neither ever blocks the other, and a full ring drops (like a NIC queue).
// docs/architecture.md, "Rings", shows where the rings sit between the threads.
//
//   byte 0       64           128      132     136        192
//   +------------+------------+--------+-------+----------+------------------------+
//   | head       | tail       | signal | drops | capacity | data[0 .. capacity)    |
//   | (producer) | (consumer) | (futex)|       | (bytes)  |                        |
//   +------------+------------+--------+-------+----------+------------------------+
//   head and tail are free-running u32 byte counters (index = counter & (capacity - 1));
//   each sits on its own cache line so the two threads don't fight over one line.
//
//   record, 8-byte aligned:
//   +0 u32 length & 0xFFFF | tag << 16   tag 0xFFFF = wrap marker: the rest of data[] is
//   +4 u32 skew (bits 0..2)              empty, continue at index 0
//          | length >>> 16 << 3          (records above 64 KiB: offloaded super-packets)
//   +8 skew bytes of padding
//   +8+skew payload (length bytes), then padding up to a multiple of 8
//
// Why the skew: V8 copies to and from shared memory word by word only when source and
// destination have the same address modulo 8, and byte by byte (about 4x slower for a
// 1400-byte packet) otherwise. Payloads arrive at arbitrary offsets (2 bytes into a
// frame, for instance), so the producer places each payload at the address modulo 8 of
// its source.
//
// Wake-ups: the consumer sleeps on the signal word; the producer bumps it and notifies
// only when a publish turns the ring from empty to non-empty, so a busy ring costs no
// wake-ups at all. The consumer loop that never loses a wake-up (also with one signal
// word shared by several rings):
//
//   for (;;) {
//     const seen = ring.signalValue();                       // 1. load the signal first
//     let drained = 0;
//     for (const r of rings) drained += r.read(handler, 256); // 2. drain every ring
//     if (drained === 0) await ring.waitAsync(seen, 1000);   // 3. sleep only if no publish
//   }                                                        //    bumped the signal since 1.
//
// A producer that publishes after step 2 read its ring sees tail === its previous head,
// bumps the signal, and the wait in 3 returns at once. `waitSync` (Atomics.wait) is the
// same for a dedicated thread. A pending Atomics.waitAsync does not keep a worker alive.

export interface RecordHandler {
  /**
   * Receives one record as a view into the ring: valid only until the ring is released
   * (the end of `read`, or `release()` after `readHeld`). Copy what must outlive that.
   */
  onRecord(data: Uint8Array, offset: number, length: number, tag: number): void;
}

export interface SpscRingOptions {
  /** Signal word to bump and wait on; default: the ring's own header word. A consumer
   *  draining several rings passes one shared word to all of them (both sides must). */
  signal?: Int32Array;
  /** Index of the signal word in `signal`. Default 0. */
  signalIndex?: number;
}

export type RingWaitResult = 'ok' | 'not-equal' | 'timed-out';

/** Largest payload of one record: a 64 KiB super-packet with its virtio-net header, with room to spare. */
export const MAX_RECORD_BYTES = 0x1ffff;
/** Largest head of writeParts (copied byte by byte: meant for a few header bytes). */
export const MAX_RECORD_HEAD_BYTES = 64;
/** Largest tag (0xFFFF marks a wrap). */
export const MAX_RECORD_TAG = 0xfffe;
export const RING_HEADER_BYTES = 192;
/** Word indices (Int32) of the header, for tests and tooling that inspect a ring. */
export const RING_HEADER_WORD = { head: 0, tail: 16, signal: 32, drops: 33, capacity: 34 } as const;

const HEAD = RING_HEADER_WORD.head;
const TAIL = RING_HEADER_WORD.tail;
const DROPS = RING_HEADER_WORD.drops;
const RECORD_HEADER_BYTES = 8;
const WRAP_TAG = 0xffff;
const MIN_CAPACITY_BYTES = 16;
const MAX_CAPACITY_BYTES = 1 << 30;

/** Bytes a record of `length` payload bytes occupies at most (worst-case skew). */
function worstRecordBytes(length: number): number {
  return (RECORD_HEADER_BYTES + 7 + length + 7) & ~7;
}

export class SpscRing {
  /** SharedArrayBuffer size for a ring with `capacityBytes` of data (a power of two). */
  static byteLengthFor(capacityBytes: number): number {
    if (!Number.isInteger(capacityBytes) || capacityBytes < MIN_CAPACITY_BYTES || capacityBytes > MAX_CAPACITY_BYTES
      || (capacityBytes & (capacityBytes - 1)) !== 0) {
      throw new RangeError(`capacityBytes must be a power of two in ${MIN_CAPACITY_BYTES}..${MAX_CAPACITY_BYTES}, got ${capacityBytes}`);
    }
    return RING_HEADER_BYTES + capacityBytes;
  }

  /**
   * Smallest capacity in which a record of `maxRecordBytes` always fits once the consumer
   * has caught up: a record never straddles the end, so two of them must fit.
   */
  static capacityFor(maxRecordBytes: number): number {
    let capacity = MIN_CAPACITY_BYTES;
    while (capacity < 2 * worstRecordBytes(maxRecordBytes)) capacity *= 2;
    return capacity;
  }

  static allocate(capacityBytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(SpscRing.byteLengthFor(capacityBytes));
  }

  /** Data bytes (a power of two). */
  readonly capacity: number;
  /** The data area; records are handed out as (data, offset, length) views into it. */
  readonly data: Uint8Array;
  private readonly words: Int32Array;
  private readonly data32: Int32Array;
  private readonly mask: number;
  private readonly signal: Int32Array;
  private readonly signalIndex: number;
  // Producer side: staged = written, not yet visible; published = last head stored.
  private staged: number;
  private published: number;
  private cachedTail: number;
  // Consumer side: consumed = read by the handler; released = last tail stored.
  private consumed: number;
  private released: number;

  constructor(sab: SharedArrayBuffer, options: SpscRingOptions = {}) {
    const capacity = sab.byteLength - RING_HEADER_BYTES;
    SpscRing.byteLengthFor(capacity);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.words = new Int32Array(sab, 0, RING_HEADER_BYTES / 4);
    this.data = new Uint8Array(sab, RING_HEADER_BYTES, capacity);
    this.data32 = new Int32Array(sab, RING_HEADER_BYTES, capacity / 4);
    this.signal = options.signal ?? this.words;
    this.signalIndex = options.signal ? (options.signalIndex ?? 0) : RING_HEADER_WORD.signal;
    Atomics.store(this.words, RING_HEADER_WORD.capacity, capacity);
    // Read positions from the buffer, so a replacement producer or consumer continues.
    this.staged = this.published = Atomics.load(this.words, HEAD) >>> 0;
    this.cachedTail = this.consumed = this.released = Atomics.load(this.words, TAIL) >>> 0;
  }

  // ---- producer ---------------------------------------------------------------------

  /**
   * Stages one record (invisible to the consumer until `publish()`). Returns false and
   * counts a drop when the ring has no room; never blocks.
   */
  write(src: Uint8Array, offset: number, length: number, tag: number): boolean {
    if (!(length >= 0 && length <= MAX_RECORD_BYTES && offset >= 0 && offset + length <= src.length && tag >= 0 && tag <= MAX_RECORD_TAG)) {
      throw new RangeError(`record at ${offset}+${length} of ${src.length} bytes (max ${MAX_RECORD_BYTES}) or tag ${tag} (max ${MAX_RECORD_TAG}) out of range`);
    }
    const at = this.reserve((src.byteOffset + offset) & 7, length, tag);
    if (at < 0) return false;
    if (length > 0) {
      // One short-lived view per record: V8 has no allocation-free copy between two typed
      // arrays at offsets, and a byte loop is ~14x slower for 1400 bytes (bench/micro).
      this.data.set(offset === 0 && length === src.length ? src : src.subarray(offset, offset + length), at);
    }
    return true;
  }

  /**
   * Stages one record made of a few head bytes followed by a body, e.g. a header the
   * consumer expects in front of a packet, without first copying both into one buffer.
   * The body keeps its source alignment (the fast copy); the head is copied bytewise.
   */
  writeParts(head: Uint8Array, headOffset: number, headLength: number, src: Uint8Array, offset: number, length: number, tag: number): boolean {
    const total = headLength + length;
    if (!(headLength >= 0 && headLength <= MAX_RECORD_HEAD_BYTES && headOffset >= 0 && headOffset + headLength <= head.length
      && length >= 0 && total <= MAX_RECORD_BYTES && offset >= 0 && offset + length <= src.length && tag >= 0 && tag <= MAX_RECORD_TAG)) {
      throw new RangeError(`record of head ${headOffset}+${headLength} of ${head.length} bytes (max ${MAX_RECORD_HEAD_BYTES}) and body ${offset}+${length} of ${src.length} bytes (max ${MAX_RECORD_BYTES} together) or tag ${tag} out of range`);
    }
    const at = this.reserve((src.byteOffset + offset - headLength) & 7, total, tag);
    if (at < 0) return false;
    const data = this.data;
    for (let i = 0; i < headLength; i++) data[at + i] = head[headOffset + i]!;
    if (length > 0) data.set(src.subarray(offset, offset + length), at + headLength);
    return true;
  }

  /**
   * Claims room for a record of `length` payload bytes placed `skew` bytes into its slot
   * and writes the record header; returns the payload's index in data, or -1 after
   * counting a drop when the ring is full.
   */
  private reserve(skew: number, length: number, tag: number): number {
    const size = (RECORD_HEADER_BYTES + skew + length + 7) & ~7;
    let position = this.staged;
    let index = position & this.mask;
    const toEnd = this.capacity - index;
    const needed = size <= toEnd ? size : toEnd + size;
    if (((position - this.cachedTail) >>> 0) + needed > this.capacity) {
      this.cachedTail = Atomics.load(this.words, TAIL) >>> 0;
      if (((position - this.cachedTail) >>> 0) + needed > this.capacity) {
        Atomics.add(this.words, DROPS, 1);
        return -1;
      }
    }
    if (size > toEnd) {
      this.data32[index >> 2] = WRAP_TAG << 16;
      position = (position + toEnd) >>> 0;
      index = 0;
    }
    this.data32[index >> 2] = (length & 0xffff) | (tag << 16);
    this.data32[(index >> 2) + 1] = skew | ((length >>> 16) << 3);
    this.staged = (position + size) >>> 0;
    return index + RECORD_HEADER_BYTES + skew;
  }

  /**
   * Makes all staged records visible with one store of head, and wakes the consumer if
   * the ring was empty before this publish. "Empty" compares the consumer's tail with the
   * head published last time - not with a position after a wrap marker written since.
   */
  publish(): void {
    const previous = this.published;
    const staged = this.staged;
    if (staged === previous) return;
    Atomics.store(this.words, HEAD, staged | 0);
    this.published = staged;
    const tail = Atomics.load(this.words, TAIL) >>> 0;
    this.cachedTail = tail;
    if (tail === previous) {
      Atomics.add(this.signal, this.signalIndex, 1);
      Atomics.notify(this.signal, this.signalIndex);
    }
  }

  /** Records refused because the ring was full, since the buffer was made (u32, wraps). */
  drops(): number {
    return Atomics.load(this.words, DROPS) >>> 0;
  }

  // ---- consumer ---------------------------------------------------------------------

  /** Reads up to `maxRecords` records and releases their space. Returns the count. */
  read(handler: RecordHandler, maxRecords: number): number {
    const count = this.readHeld(handler, maxRecords);
    this.release();
    return count;
  }

  /**
   * Like `read` but keeps the records' space until `release()`, so the views handed to
   * the handler can be used after it returns (e.g. one batched TUN write straight from
   * the ring). Further `readHeld` calls continue after the held records.
   */
  readHeld(handler: RecordHandler, maxRecords: number): number {
    const head = Atomics.load(this.words, HEAD) >>> 0;
    const data32 = this.data32;
    let position = this.consumed;
    let count = 0;
    while (position !== head && count < maxRecords) {
      const index = position & this.mask;
      const word = data32[index >> 2];
      const tag = word >>> 16;
      if (tag === WRAP_TAG) {
        position = (position + this.capacity - index) >>> 0;
        continue;
      }
      const second = data32[(index >> 2) + 1]!;
      const length = (word & 0xffff) | ((second >>> 3) << 16);
      const skew = second & 7;
      handler.onRecord(this.data, index + RECORD_HEADER_BYTES + skew, length, tag);
      position = (position + ((RECORD_HEADER_BYTES + skew + length + 7) & ~7)) >>> 0;
      count++;
    }
    this.consumed = position;
    return count;
  }

  /**
   * Publishes the tail after `readHeld`. Also when only a wrap marker was consumed: a
   * tail left before it would make the producer think the ring is still non-empty, so
   * it would never signal again.
   */
  release(): void {
    if (this.consumed === this.released) return;
    Atomics.store(this.words, TAIL, this.consumed | 0);
    this.released = this.consumed;
  }

  /** Bytes taken by published, unreleased records (a snapshot, for fill-level metrics). */
  usedBytes(): number {
    return (Atomics.load(this.words, HEAD) - Atomics.load(this.words, TAIL)) >>> 0;
  }

  /** The producer's published position (a free-running u32 byte counter). */
  producedPosition(): number {
    return Atomics.load(this.words, HEAD) >>> 0;
  }

  /** The consumer's released position (same counter as producedPosition). */
  consumedPosition(): number {
    return this.released >>> 0;
  }

  /** True when no published record is waiting. */
  isEmpty(): boolean {
    return Atomics.load(this.words, HEAD) === Atomics.load(this.words, TAIL);
  }

  /** Current signal value: load it BEFORE draining, and wait with it after. */
  signalValue(): number {
    return Atomics.load(this.signal, this.signalIndex);
  }

  /** Sleeps in a dedicated thread until the signal differs from `expectedSignal`. */
  waitSync(expectedSignal: number, timeoutMs: number): RingWaitResult {
    return Atomics.wait(this.signal, this.signalIndex, expectedSignal, timeoutMs);
  }

  /** Event-loop friendly wait; resolves at once when the signal already moved. */
  waitAsync(expectedSignal: number, timeoutMs: number): Promise<RingWaitResult> {
    const result = Atomics.waitAsync(this.signal, this.signalIndex, expectedSignal, timeoutMs);
    return result.async ? result.value : Promise.resolve(result.value);
  }
}
