// Framing for the tunnel byte stream (format in wire.ts).
//
// FrameBatcher packs many frames into one buffer so a socket sees one write per ~64 KiB,
// not one per packet (per-packet writes cost ~3x the throughput; docs/architecture.md, "Known facts").
// FrameDecoder cuts the received stream back into payloads. It hands out views into the
// received chunk; only a frame split across chunks is copied, once, into a reusable
// buffer - re-concatenating leftovers on every read is measurably slower.
// Offload frames and large frames exist only after enableGso() on both ends (negotiated
// in the hello, see wire.ts).
import { offloadRecordProblem } from './gso-header.js';
import { ipPacketValid } from './ip-packet.js';
import { BufferPool } from './buffer-pool.js';
import {
  FRAME_HEADER_BYTES,
  LARGE_FRAME_HEADER_BYTES,
  MAX_FRAME_PAYLOAD,
  MAX_OFFLOAD_FRAME_PAYLOAD,
  OFFLOAD_FRAME_TYPE,
  frameHeaderBytes,
  isKnownControlType,
  readFrameLength,
  readLargeFrameLength,
  writeFrameHeader,
  writeLargeFrameHeader,
} from './wire.js';

/** Why a frame was skipped (or, for 'oversize', the stream given up; for 'bad-hello-extension',
 *  a known hello extension ignored while the hello stands). Metric labels. */
export const FRAME_MALFORMED_REASONS = ['empty', 'unknown-type', 'truncated', 'oversize', 'bad-offload', 'bad-hello-extension'] as const;
export type FrameMalformedReason = (typeof FRAME_MALFORMED_REASONS)[number];

export interface FrameBatcherOptions {
  /** A batch is handed out for writing once the next frame would not fit. Default 64 KiB;
   *  the buffer is never smaller than one maximal frame. */
  batchBytes?: number;
  /** Largest payload accepted by `append`. Default MAX_FRAME_PAYLOAD. */
  maxFramePayload?: number;
  /** Where batch buffers come from and go back to after release(); shared by a shard's
   *  connections. Default: a pool of this batcher's own holding up to 2 buffers. */
  pool?: BufferPool;
}

const DEFAULT_BATCH_BYTES = 64 * 1024;
// A batch at most this full is copied out and the big buffer kept, so a trickle of small
// packets doesn't allocate a fresh 64 KiB buffer per write.
const COPY_OUT_FRACTION = 4;
// A batch starts up to 7 bytes into its buffer, so its first frame's payload lands at its
// source's address modulo 8 (see append).
const MAX_BATCH_SKEW = 7;

export class FrameBatcher {
  private readonly batchBytes: number;
  private readonly capacity: number;
  private readonly maxFramePayload: number;
  private readonly pool: BufferPool;
  private gso = false;
  private buffer: Buffer;
  /** Where the current batch starts in `buffer` (0..7). */
  private base = 0;
  private used = 0;
  private frames = 0;
  // Last source seen by append, so the per-packet path doesn't read `.buffer` each time.
  private lastSource: Uint8Array | undefined;
  private lastSourceShared = false;
  private readonly bounce: Buffer;

  constructor(options: FrameBatcherOptions = {}) {
    const maxFramePayload = options.maxFramePayload ?? MAX_FRAME_PAYLOAD;
    if (!Number.isInteger(maxFramePayload) || maxFramePayload < 1 || maxFramePayload > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`maxFramePayload must be 1..${MAX_FRAME_PAYLOAD}, got ${maxFramePayload}`);
    }
    const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    if (!Number.isInteger(batchBytes) || batchBytes < 1) throw new RangeError(`batchBytes must be a positive integer, got ${batchBytes}`);
    this.maxFramePayload = maxFramePayload;
    this.batchBytes = batchBytes;
    // Room for the largest frame (an offload frame, once enabled) at the largest skew.
    this.capacity = MAX_BATCH_SKEW + Math.max(batchBytes, LARGE_FRAME_HEADER_BYTES + MAX_OFFLOAD_FRAME_PAYLOAD);
    this.pool = options.pool ?? new BufferPool(2);
    this.buffer = this.pool.get(this.capacity);
    this.bounce = Buffer.allocUnsafeSlow(MAX_OFFLOAD_FRAME_PAYLOAD + 8);
  }

  /** Bytes waiting in the current batch. */
  get pendingBytes(): number {
    return this.used - this.base;
  }

  /** Frames waiting in the current batch. */
  get pendingFrames(): number {
    return this.frames;
  }

  /** Both peers announced gso: appendOffload (and large frames) may be used from now on. */
  enableGso(): void {
    this.gso = true;
  }

  /**
   * Appends one frame. Returns false when it does not fit the current batch: `take()`,
   * write that, and append again (a frame always fits an empty batch).
   */
  append(src: Uint8Array, offset: number, length: number): boolean {
    if (!(length >= 1 && length <= this.maxFramePayload)) {
      throw new RangeError(`frame payload length must be 1..${this.maxFramePayload}, got ${length}`);
    }
    const target = this.startFrame(src, offset, length, FRAME_HEADER_BYTES);
    if (target < 0) return false;
    writeFrameHeader(this.buffer, target - FRAME_HEADER_BYTES, length);
    this.copyIn(src, offset, length, target);
    return true;
  }

  /**
   * Appends an offload frame for the record [virtio_net_hdr][IPv4 packet] at
   * src[offset, offset + length): payload OFFLOAD_FRAME_TYPE + record, in a large frame
   * when it exceeds 65535 bytes. Only after enableGso(). Returns false like append.
   */
  appendOffload(src: Uint8Array, offset: number, length: number): boolean {
    const payload = length + 1;
    if (!this.gso) throw new Error('offload frames need enableGso() (both peers announced gso)');
    if (!(length >= 1 && payload <= MAX_OFFLOAD_FRAME_PAYLOAD)) {
      throw new RangeError(`offload record length must be 1..${MAX_OFFLOAD_FRAME_PAYLOAD - 1}, got ${length}`);
    }
    const headerBytes = frameHeaderBytes(payload);
    const target = this.startFrame(src, offset, length, headerBytes + 1);
    if (target < 0) return false;
    const start = target - 1 - headerBytes;
    if (headerBytes === FRAME_HEADER_BYTES) writeFrameHeader(this.buffer, start, payload);
    else writeLargeFrameHeader(this.buffer, start, payload);
    this.buffer[target - 1] = OFFLOAD_FRAME_TYPE;
    this.copyIn(src, offset, length, target);
    return true;
  }

  /**
   * Claims room for a frame whose copied bytes (`length`, from src at offset) follow
   * `prefixBytes` of header; returns where they go, or -1 when the batch is too full.
   * The first frame of a batch decides the batch's skew so its bytes are copied between
   * equally aligned addresses.
   */
  private startFrame(src: Uint8Array, offset: number, length: number, prefixBytes: number): number {
    let start = this.used;
    if (start === this.base) {
      this.base = start = (src.byteOffset + offset - prefixBytes) & MAX_BATCH_SKEW;
      this.used = start;
    } else if (start - this.base + prefixBytes + length > this.batchBytes) {
      return -1;
    }
    const target = start + prefixBytes;
    this.used = target + length;
    this.frames++;
    return target;
  }

  private copyIn(src: Uint8Array, offset: number, length: number, target: number): void {
    if (src !== this.lastSource) {
      this.lastSource = src;
      this.lastSourceShared = src.buffer instanceof SharedArrayBuffer;
    }
    const sourceAddress = src.byteOffset + offset;
    if (this.lastSourceShared && ((sourceAddress - target) & 7) !== 0) {
      // V8 copies out of shared memory word by word only between equally aligned
      // addresses; bouncing through an aligned scratch buffer is ~2x faster than the
      // byte-by-byte copy a misaligned target gets (bench/micro).
      const skew = sourceAddress & 7;
      this.bounce.set(src.subarray(offset, offset + length), skew);
      this.bounce.copy(this.buffer, target, skew, skew + length);
    } else {
      this.buffer.set(src.subarray(offset, offset + length), target);
    }
  }

  /**
   * Hands out the batch for ONE socket.write and starts a new one; undefined when empty.
   * The returned Buffer belongs to the caller until it hands it back with release() (the
   * batcher never writes it before). A small batch is copied out (into Node's shared
   * slab below 4 KiB) so that a trickle of small writes queued on a slow socket does not
   * pin a whole batch buffer each.
   */
  take(): Buffer | undefined {
    const base = this.base;
    const used = this.used;
    if (used === base) return undefined;
    this.used = this.base = 0;
    this.frames = 0;
    const bytes = used - base;
    if (bytes * COPY_OUT_FRACTION <= this.capacity) {
      const out = Buffer.allocUnsafe(bytes);
      this.buffer.copy(out, 0, base, used);
      return out;
    }
    const out = this.buffer.subarray(base, used);
    this.buffer = this.pool.get(this.capacity);
    return out;
  }

  /**
   * A batch from take() is no longer read (its socket write completed): its buffer may be
   * reused. Call at most once per batch; not calling it only costs an allocation.
   */
  release(batch: Buffer): void {
    this.pool.put(batch);
  }
}

export interface FrameSink {
  /** A payload holding one IP packet with a consistent header. View valid during the call. */
  onIpPacket(buf: Uint8Array, offset: number, length: number): void;
  /**
   * An offload frame's record [virtio_net_hdr][IPv4 packet] (offset at the header) that
   * passed offloadRecordProblem. Only after enableGso(). View valid during the call.
   */
  onOffloadPacket?(buf: Uint8Array, offset: number, length: number): void;
  /** A payload whose first byte is a known control type (decode with wire.decodeControl). */
  onControl(buf: Uint8Array, offset: number, length: number): void;
  /** A frame was skipped, or ('oversize') the stream is lost. */
  onMalformed(reason: FrameMalformedReason): void;
}

export interface FrameDecoderOptions {
  /** Frames with a longer payload end the stream ('oversize'). Default MAX_FRAME_PAYLOAD;
   *  MAX_OFFLOAD_FRAME_PAYLOAD after enableGso(). */
  maxFramePayload?: number;
}

export class FrameDecoder {
  private maxFramePayload: number;
  private readonly sink: FrameSink;
  /** Offload frames and large frames are accepted (both peers announced gso). */
  private gso = false;
  /** The one partial frame (header included) carried over between chunks. */
  private partial: Buffer;
  private partialBytes = 0;
  /** Header + payload bytes of the carried frame once its header is complete, else 0. */
  private partialFrameBytes = 0;
  private partialHeaderBytes = 0;
  private failed = false;

  constructor(options: FrameDecoderOptions, sink: FrameSink) {
    const maxFramePayload = options.maxFramePayload ?? MAX_FRAME_PAYLOAD;
    if (!Number.isInteger(maxFramePayload) || maxFramePayload < 1 || maxFramePayload > MAX_FRAME_PAYLOAD) {
      throw new RangeError(`maxFramePayload must be 1..${MAX_FRAME_PAYLOAD}, got ${maxFramePayload}`);
    }
    this.maxFramePayload = maxFramePayload;
    this.sink = sink;
    this.partial = Buffer.allocUnsafeSlow(FRAME_HEADER_BYTES + maxFramePayload);
  }

  /** Bytes of an incomplete frame held from earlier chunks. */
  get bufferedBytes(): number {
    return this.partialBytes;
  }

  /**
   * Both peers announced gso: from the next frame on, a zero length introduces a large
   * frame and OFFLOAD_FRAME_TYPE payloads reach sink.onOffloadPacket. Safe to call from
   * inside a sink callback (e.g. on the peer's hello).
   */
  enableGso(): void {
    if (this.sink.onOffloadPacket === undefined) throw new Error('enableGso needs a sink with onOffloadPacket');
    this.gso = true;
    this.maxFramePayload = MAX_OFFLOAD_FRAME_PAYLOAD;
    const needed = LARGE_FRAME_HEADER_BYTES + MAX_OFFLOAD_FRAME_PAYLOAD;
    if (this.partial.length < needed) {
      const grown = Buffer.allocUnsafeSlow(needed);
      this.partial.copy(grown, 0, 0, this.partialBytes);
      this.partial = grown;
    }
  }

  /**
   * Feeds received bytes. Returns false once the stream cannot be resynchronised (a
   * length above maxFramePayload): the caller closes the connection.
   */
  push(chunk: Uint8Array): boolean {
    if (this.failed) return false;
    let offset = 0;
    const end = chunk.length;
    if (this.partialBytes > 0) {
      offset = this.completePartial(chunk);
      if (offset < 0) return false;
      if (this.partialBytes > 0) return true;
    }
    while (end - offset >= FRAME_HEADER_BYTES) {
      let length = readFrameLength(chunk, offset);
      let headerBytes = FRAME_HEADER_BYTES;
      if (length === 0 && this.gso) {
        if (end - offset < LARGE_FRAME_HEADER_BYTES) break;
        length = readLargeFrameLength(chunk, offset);
        headerBytes = LARGE_FRAME_HEADER_BYTES;
      }
      if (length === 0) {
        this.sink.onMalformed('empty');
        offset += headerBytes;
        continue;
      }
      if (length > this.maxFramePayload) return this.fail();
      if (end - offset - headerBytes < length) break;
      this.dispatch(chunk, offset + headerBytes, length);
      offset += headerBytes + length;
    }
    if (offset < end) {
      this.partial.set(offset === 0 ? chunk : chunk.subarray(offset), 0);
      this.partialBytes = end - offset;
      this.partialFrameBytes = 0;
    }
    return true;
  }

  /** Tops up the carried partial frame from `chunk`; returns the offset consumed, -1 on failure. */
  private completePartial(chunk: Uint8Array): number {
    let offset = 0;
    if (this.partialFrameBytes === 0) {
      offset = this.completeHeader(chunk);
      if (offset < 0 || this.partialFrameBytes === 0) return offset;
    }
    const take = Math.min(this.partialFrameBytes - this.partialBytes, chunk.length - offset);
    if (take > 0) this.partial.set(chunk.subarray(offset, offset + take), this.partialBytes);
    this.partialBytes += take;
    offset += take;
    if (this.partialBytes === this.partialFrameBytes) {
      const headerBytes = this.partialHeaderBytes;
      const frameBytes = this.partialFrameBytes;
      this.partialBytes = this.partialFrameBytes = 0;
      this.dispatch(this.partial, headerBytes, frameBytes - headerBytes);
    }
    return offset;
  }

  /**
   * Completes the carried frame's header (2 bytes, or 6 for a large frame) from `chunk`.
   * Sets partialFrameBytes once the header is complete; skips empty frames. Returns the
   * offset consumed, or -1 when the length is too large.
   */
  private completeHeader(chunk: Uint8Array): number {
    const partial = this.partial;
    let offset = 0;
    for (;;) {
      const need = this.gso && this.partialBytes >= FRAME_HEADER_BYTES && partial[0] === 0 && partial[1] === 0
        ? LARGE_FRAME_HEADER_BYTES
        : FRAME_HEADER_BYTES;
      if (this.partialBytes < need) {
        const take = Math.min(need - this.partialBytes, chunk.length - offset);
        for (let i = 0; i < take; i++) partial[this.partialBytes + i] = chunk[offset + i]!;
        this.partialBytes += take;
        offset += take;
        if (this.partialBytes < need) return offset;
        continue; // a 2-byte zero may turn out to start a 6-byte header
      }
      const length = need === FRAME_HEADER_BYTES ? readFrameLength(partial, 0) : readLargeFrameLength(partial, 0);
      if (length === 0) {
        this.sink.onMalformed('empty');
        partial.copyWithin(0, need, this.partialBytes);
        this.partialBytes -= need;
        if (this.partialBytes === 0) return offset;
        continue;
      }
      if (length > this.maxFramePayload) {
        this.fail();
        return -1;
      }
      this.partialHeaderBytes = need;
      this.partialFrameBytes = need + length;
      return offset;
    }
  }

  private dispatch(buf: Uint8Array, offset: number, length: number): void {
    const first = buf[offset]!;
    const version = first >>> 4;
    if (version === 4 || version === 6) {
      if (ipPacketValid(buf, offset, length)) this.sink.onIpPacket(buf, offset, length);
      else this.sink.onMalformed('truncated');
    } else if (first === OFFLOAD_FRAME_TYPE && this.gso) {
      if (offloadRecordProblem(buf, offset + 1, length - 1) === undefined) this.sink.onOffloadPacket!(buf, offset + 1, length - 1);
      else this.sink.onMalformed('bad-offload');
    } else if (isKnownControlType(first)) {
      this.sink.onControl(buf, offset, length);
    } else {
      this.sink.onMalformed('unknown-type');
    }
  }

  private fail(): false {
    this.failed = true;
    this.partialBytes = 0;
    this.sink.onMalformed('oversize');
    return false;
  }
}
