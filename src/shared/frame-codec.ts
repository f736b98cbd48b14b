// Framing for the tunnel byte stream (format in wire.ts).
//
// FrameBatcher packs many frames into one buffer so a socket sees one write per ~64 KiB,
// not one per packet (per-packet writes cost ~3x the throughput; see ARCHITECTURE.md).
// FrameDecoder cuts the received stream back into payloads. It hands out views into the
// received chunk; only a frame split across chunks is copied, once, into a reusable
// buffer - re-concatenating leftovers on every read is measurably slower.
import { ipPacketValid } from './ip-packet.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD, isKnownControlType, readFrameLength, writeFrameHeader } from './wire.js';

/** Why a frame was skipped (or, for 'oversize', the stream given up). Metric labels. */
export const FRAME_MALFORMED_REASONS = ['empty', 'unknown-type', 'truncated', 'oversize'] as const;
export type FrameMalformedReason = (typeof FRAME_MALFORMED_REASONS)[number];

export interface FrameBatcherOptions {
  /** A batch is handed out for writing once the next frame would not fit. Default 64 KiB;
   *  the buffer is never smaller than one maximal frame. */
  batchBytes?: number;
  /** Largest payload accepted by `append`. Default MAX_FRAME_PAYLOAD. */
  maxFramePayload?: number;
}

const DEFAULT_BATCH_BYTES = 64 * 1024;
// A batch at most this full is copied out and the big buffer kept, so a trickle of small
// packets doesn't allocate a fresh 64 KiB buffer per write.
const COPY_OUT_FRACTION = 4;

export class FrameBatcher {
  private readonly batchBytes: number;
  private readonly capacity: number;
  private readonly maxFramePayload: number;
  private buffer: Buffer;
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
    this.capacity = Math.max(batchBytes, FRAME_HEADER_BYTES + maxFramePayload);
    this.buffer = Buffer.allocUnsafeSlow(this.capacity);
    this.bounce = Buffer.allocUnsafeSlow(maxFramePayload + 8);
  }

  /** Bytes waiting in the current batch. */
  get pendingBytes(): number {
    return this.used;
  }

  /** Frames waiting in the current batch. */
  get pendingFrames(): number {
    return this.frames;
  }

  /**
   * Appends one frame. Returns false when it does not fit the current batch: `take()`,
   * write that, and append again (a frame always fits an empty batch).
   */
  append(src: Uint8Array, offset: number, length: number): boolean {
    if (!(length >= 1 && length <= this.maxFramePayload)) {
      throw new RangeError(`frame payload length must be 1..${this.maxFramePayload}, got ${length}`);
    }
    const start = this.used;
    if (start > 0 && start + FRAME_HEADER_BYTES + length > this.batchBytes) return false;
    writeFrameHeader(this.buffer, start, length);
    const target = start + FRAME_HEADER_BYTES;
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
    this.used = target + length;
    this.frames++;
    return true;
  }

  /**
   * Hands out the batch for ONE socket.write and starts a new one; undefined when empty.
   * The returned Buffer belongs to the caller (it is never written again).
   */
  take(): Buffer | undefined {
    const used = this.used;
    if (used === 0) return undefined;
    this.used = 0;
    this.frames = 0;
    if (used * COPY_OUT_FRACTION <= this.capacity) {
      const out = Buffer.allocUnsafe(used);
      this.buffer.copy(out, 0, 0, used);
      return out;
    }
    const out = this.buffer.subarray(0, used);
    this.buffer = Buffer.allocUnsafeSlow(this.capacity);
    return out;
  }
}

export interface FrameSink {
  /** A payload holding one IP packet with a consistent header. View valid during the call. */
  onIpPacket(buf: Uint8Array, offset: number, length: number): void;
  /** A payload whose first byte is a known control type (decode with wire.decodeControl). */
  onControl(buf: Uint8Array, offset: number, length: number): void;
  /** A frame was skipped, or ('oversize') the stream is lost. */
  onMalformed(reason: FrameMalformedReason): void;
}

export interface FrameDecoderOptions {
  /** Frames with a longer payload end the stream ('oversize'). Default MAX_FRAME_PAYLOAD. */
  maxFramePayload?: number;
}

export class FrameDecoder {
  private readonly maxFramePayload: number;
  private readonly sink: FrameSink;
  /** The one partial frame (header included) carried over between chunks. */
  private readonly partial: Buffer;
  private partialBytes = 0;
  private partialFrameBytes = 0;
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
      const length = readFrameLength(chunk, offset);
      if (length === 0) {
        this.sink.onMalformed('empty');
        offset += FRAME_HEADER_BYTES;
        continue;
      }
      if (length > this.maxFramePayload) return this.fail();
      if (end - offset - FRAME_HEADER_BYTES < length) break;
      this.dispatch(chunk, offset + FRAME_HEADER_BYTES, length);
      offset += FRAME_HEADER_BYTES + length;
    }
    if (offset < end) {
      this.partial.set(offset === 0 ? chunk : chunk.subarray(offset), 0);
      this.partialBytes = end - offset;
      this.partialFrameBytes = this.partialBytes >= FRAME_HEADER_BYTES
        ? FRAME_HEADER_BYTES + readFrameLength(this.partial, 0)
        : 0;
    }
    return true;
  }

  /** Tops up the carried partial frame from `chunk`; returns the offset consumed, -1 on failure. */
  private completePartial(chunk: Uint8Array): number {
    let offset = 0;
    if (this.partialBytes < FRAME_HEADER_BYTES) {
      // Only the first byte of the length arrived before.
      if (chunk.length === 0) return 0;
      this.partial[1] = chunk[0]!;
      this.partialBytes = FRAME_HEADER_BYTES;
      offset = 1;
      const length = readFrameLength(this.partial, 0);
      if (length === 0) {
        this.sink.onMalformed('empty');
        this.partialBytes = 0;
        return offset;
      }
      this.partialFrameBytes = FRAME_HEADER_BYTES + length;
    }
    if (this.partialFrameBytes - FRAME_HEADER_BYTES > this.maxFramePayload) {
      this.fail();
      return -1;
    }
    const take = Math.min(this.partialFrameBytes - this.partialBytes, chunk.length - offset);
    if (take > 0) this.partial.set(chunk.subarray(offset, offset + take), this.partialBytes);
    this.partialBytes += take;
    offset += take;
    if (this.partialBytes === this.partialFrameBytes) {
      this.partialBytes = 0;
      this.dispatch(this.partial, FRAME_HEADER_BYTES, this.partialFrameBytes - FRAME_HEADER_BYTES);
    }
    return offset;
  }

  private dispatch(buf: Uint8Array, offset: number, length: number): void {
    const first = buf[offset]!;
    const version = first >>> 4;
    if (version === 4 || version === 6) {
      if (ipPacketValid(buf, offset, length)) this.sink.onIpPacket(buf, offset, length);
      else this.sink.onMalformed('truncated');
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
