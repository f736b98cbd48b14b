// Data-plane counters: one block per thread in a SharedArrayBuffer (Float64, so byte
// counts don't wrap). Each block has exactly one writer, which increments plain array
// elements (`block[Counter.tunRxPackets]++`: no atomics, no messages); the main thread
// reads all blocks for /metrics and tolerates values a moment stale.
//
//   Float64 slots:  block 0: [counter 0 .. COUNTERS_PER_BLOCK-1] | block 1: [...] | ...
//
// Every counter, its index, metric name and label are defined in this file once.
import { FRAME_MALFORMED_REASONS, type FrameMalformedReason } from './frame-codec.js';
import { INBOUND_DROP_REASONS } from './inbound-filter.js';

export interface CounterDescriptor {
  /** Slot within a block. */
  index: number;
  /** Prometheus metric name. */
  metric: string;
  help: string;
  /** Value of the metric's `reason` label, for the drop and malformed families. */
  reason?: string;
}

const DROPPED = 'kubelink_dropped_packets_total';
const DROPPED_HELP = 'Packets dropped by the data plane, by reason';
const MALFORMED = 'kubelink_malformed_frames_total';
const MALFORMED_HELP = 'Frames from peers that were skipped (or ended the connection: oversize), by reason';

const SCALAR_COUNTERS = [
  { name: 'tunRxPackets', metric: 'kubelink_tun_rx_packets_total', help: 'Packets read from the TUN device' },
  { name: 'tunRxBytes', metric: 'kubelink_tun_rx_bytes_total', help: 'Bytes read from the TUN device' },
  { name: 'tunTxPackets', metric: 'kubelink_tun_tx_packets_total', help: 'Packets written to the TUN device' },
  { name: 'tunTxBytes', metric: 'kubelink_tun_tx_bytes_total', help: 'Bytes written to the TUN device' },
  { name: 'tunnelRxPackets', metric: 'kubelink_tunnel_rx_packets_total', help: 'IP packets received from peers' },
  { name: 'tunnelRxBytes', metric: 'kubelink_tunnel_rx_bytes_total', help: 'IP packet bytes received from peers' },
  { name: 'tunnelTxPackets', metric: 'kubelink_tunnel_tx_packets_total', help: 'IP packets sent to peers' },
  { name: 'tunnelTxBytes', metric: 'kubelink_tunnel_tx_bytes_total', help: 'IP packet bytes sent to peers' },
  { name: 'tunWriteErrors', metric: 'kubelink_tun_write_errors_total', help: 'Packets the TUN device refused' },
  { name: 'tunRxOffloadPackets', metric: 'kubelink_tun_rx_offload_packets_total', help: 'TCP super-packets (TSO/GSO) read from the TUN device, also counted in kubelink_tun_rx_packets_total' },
  { name: 'tunRxOffloadSegments', metric: 'kubelink_tun_rx_offload_segments_total', help: 'Packets the TCP super-packets read from the TUN device stand for' },
  { name: 'tunTxOffloadPackets', metric: 'kubelink_tun_tx_offload_packets_total', help: 'TCP super-packets (TSO/GSO) written to the TUN device, also counted in kubelink_tun_tx_packets_total' },
  { name: 'tunnelTxSoftwareSegments', metric: 'kubelink_tunnel_tx_software_segments_total', help: 'Packets cut in software from super-packets for peers that did not announce gso' },
  { name: 'badOffloadDrops', metric: DROPPED, help: DROPPED_HELP, reason: 'bad-offload' },
  { name: 'noRouteDrops', metric: DROPPED, help: DROPPED_HELP, reason: 'no-route' },
  { name: 'noTunnelDrops', metric: DROPPED, help: DROPPED_HELP, reason: 'no-tunnel' },
  { name: 'ringFullDrops', metric: DROPPED, help: DROPPED_HELP, reason: 'ring-full' },
  { name: 'tunnelBackpressureDrops', metric: DROPPED, help: DROPPED_HELP, reason: 'tunnel-backpressure' },
  { name: 'queueDelayDrops', metric: DROPPED, help: DROPPED_HELP, reason: 'queue-delay' },
] as const;

export type ScalarCounterName = (typeof SCALAR_COUNTERS)[number]['name'];

/** Slot of each scalar counter: `block[Counter.ringFullDrops] += n`. */
export const Counter = Object.freeze(
  Object.fromEntries(SCALAR_COUNTERS.map((counter, index) => [counter.name, index])),
) as { readonly [K in ScalarCounterName]: number };

const INBOUND_DROP_FIRST_COUNTER = SCALAR_COUNTERS.length;
/** Slot of the inbound drop with code `code` (an InboundDrop value, >= 1). */
export function inboundDropCounter(code: number): number {
  return INBOUND_DROP_FIRST_COUNTER + code - 1;
}

const FRAME_MALFORMED_FIRST_COUNTER = INBOUND_DROP_FIRST_COUNTER + INBOUND_DROP_REASONS.length;
/** Slot of each frame-malformed reason: `block[FrameMalformedCounter[reason]]++`. */
export const FrameMalformedCounter = Object.freeze(
  Object.fromEntries(FRAME_MALFORMED_REASONS.map((reason, i) => [reason, FRAME_MALFORMED_FIRST_COUNTER + i])),
) as { readonly [K in FrameMalformedReason]: number };

export const COUNTERS_PER_BLOCK = FRAME_MALFORMED_FIRST_COUNTER + FRAME_MALFORMED_REASONS.length;

/** Every slot with its metric, in slot order. */
export const COUNTER_DESCRIPTORS: readonly CounterDescriptor[] = Object.freeze([
  ...SCALAR_COUNTERS.map((counter, index): CounterDescriptor => ({ index, metric: counter.metric, help: counter.help, ...('reason' in counter ? { reason: counter.reason } : {}) })),
  ...INBOUND_DROP_REASONS.map((reason, i): CounterDescriptor => ({ index: inboundDropCounter(i + 1), metric: DROPPED, help: DROPPED_HELP, reason })),
  ...FRAME_MALFORMED_REASONS.map((reason): CounterDescriptor => ({ index: FrameMalformedCounter[reason], metric: MALFORMED, help: MALFORMED_HELP, reason })),
]);

export class CounterBlocks {
  static byteLengthFor(blockCount: number): number {
    if (!Number.isInteger(blockCount) || blockCount < 1) throw new RangeError(`blockCount must be a positive integer, got ${blockCount}`);
    return blockCount * COUNTERS_PER_BLOCK * Float64Array.BYTES_PER_ELEMENT;
  }

  static allocate(blockCount: number): SharedArrayBuffer {
    return new SharedArrayBuffer(CounterBlocks.byteLengthFor(blockCount));
  }

  readonly blockCount: number;
  private readonly slots: Float64Array;

  constructor(sab: SharedArrayBuffer) {
    const bytesPerBlock = COUNTERS_PER_BLOCK * Float64Array.BYTES_PER_ELEMENT;
    if (sab.byteLength === 0 || sab.byteLength % bytesPerBlock !== 0) {
      throw new RangeError(`counter buffer of ${sab.byteLength} bytes is not a whole number of blocks`);
    }
    this.blockCount = sab.byteLength / bytesPerBlock;
    this.slots = new Float64Array(sab);
  }

  /** The view one thread writes through; take it once, at start. */
  block(blockIndex: number): Float64Array {
    this.checkBlock(blockIndex);
    return this.slots.subarray(blockIndex * COUNTERS_PER_BLOCK, (blockIndex + 1) * COUNTERS_PER_BLOCK);
  }

  value(blockIndex: number, counter: number): number {
    this.checkBlock(blockIndex);
    return this.slots[blockIndex * COUNTERS_PER_BLOCK + counter]!;
  }

  /** Sum of one counter over all blocks. */
  total(counter: number): number {
    let sum = 0;
    for (let at = counter; at < this.slots.length; at += COUNTERS_PER_BLOCK) sum += this.slots[at]!;
    return sum;
  }

  private checkBlock(blockIndex: number): void {
    if (!Number.isInteger(blockIndex) || blockIndex < 0 || blockIndex >= this.blockCount) {
      throw new RangeError(`counter block must be 0..${this.blockCount - 1}, got ${blockIndex}`);
    }
  }
}
