// Where a shard puts the packets it receives from peers: straight into the TUN device.
// The shard decodes a decrypted TLS chunk and writes the packets it holds with one
// writeBatch call per chunk, from the chunk itself: no copy into a ring, no TUN writer
// thread to wake (a futex call per publish, a third of a receiving shard's CPU in
// profiles). Writes to one TUN queue from several threads are safe: each write() is one
// packet to the kernel. See docs/architecture.md, "Data path: threads and copies".
import { loadNative, type NativeAddon } from '../shared/native.js';
import { Counter } from '../shared/counters.js';
import { TRIVIAL_VNET_HEADER, VNET_HDR_BYTES, gsoType } from '../shared/gso-header.js';

/** Packets of one writeBatch call at most. */
const MAX_BATCH_PACKETS = 256;

/** The TUN as a connection sees it (tests substitute a recorder). */
export interface TunSink {
  /** Views into `chunk` given to packet()/record() before end() may be written together at end(). */
  begin(chunk: Uint8Array): void;
  /** A plain IP packet (with vnetHdr it gets a zero virtio_net_hdr in front). */
  packet(buf: Uint8Array, offset: number, length: number): void;
  /** A record [virtio_net_hdr][IPv4 packet], written as it is (only with vnetHdr). */
  record(buf: Uint8Array, offset: number, length: number): void;
  /** Writes what the chunk held; views into it are not used after this. */
  end(): void;
}

export class TunWriter implements TunSink {
  private chunk: Uint8Array | null = null;
  private readonly offsets = new Int32Array(MAX_BATCH_PACKETS);
  private readonly lengths = new Int32Array(MAX_BATCH_PACKETS);
  private count = 0;
  /** The batch's packets are plain IP packets that get the zero header (else records). */
  private prefixed = false;
  private readonly prefix: Uint8Array | undefined;

  constructor(
    private readonly fd: number,
    /** The shard's counter block (single writer: its thread). */
    private readonly counters: Float64Array,
    private readonly vnetHdr: boolean,
    private readonly native: NativeAddon = loadNative(),
  ) {
    this.prefix = vnetHdr ? Uint8Array.from(TRIVIAL_VNET_HEADER) : undefined;
  }

  begin(chunk: Uint8Array): void {
    this.flush();
    this.chunk = chunk;
  }

  packet(buf: Uint8Array, offset: number, length: number): void {
    this.add(buf, offset, length, this.vnetHdr);
  }

  record(buf: Uint8Array, offset: number, length: number): void {
    this.add(buf, offset, length, false);
  }

  end(): void {
    this.flush();
    this.chunk = null;
  }

  private add(buf: Uint8Array, offset: number, length: number, prefixed: boolean): void {
    if (this.count > 0 && (prefixed !== this.prefixed || this.count === MAX_BATCH_PACKETS || buf !== this.chunk)) this.flush();
    this.prefixed = prefixed;
    this.offsets[this.count] = offset;
    this.lengths[this.count] = length;
    this.count++;
    // A view into anything but the current chunk (the decoder's buffer for a frame that
    // spanned chunks) is reused by its owner after this call: write it now.
    if (buf !== this.chunk) this.flush(buf);
  }

  private flush(buf: Uint8Array | null = this.chunk): void {
    const count = this.count;
    if (count === 0 || buf === null) return;
    this.count = 0;
    let written: number;
    try {
      written = this.native.writeBatch(this.fd, buf, this.offsets, this.lengths, count, this.prefixed ? this.prefix : undefined);
    } catch {
      // The device is gone (EBADF after a stop, EIO): the packets are lost, the shard lives on.
      written = 0;
    }
    const counters = this.counters;
    counters[Counter.tunTxPackets] += written;
    counters[Counter.tunWriteErrors] += count - written;
    for (let i = 0; i < count; i++) {
      if (this.prefixed || !this.vnetHdr) {
        counters[Counter.tunTxBytes] += this.lengths[i]!;
      } else {
        counters[Counter.tunTxBytes] += this.lengths[i]! - VNET_HDR_BYTES;
        if (gsoType(buf, this.offsets[i]!) !== 0) counters[Counter.tunTxOffloadPackets]++;
      }
    }
  }
}
