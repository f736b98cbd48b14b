// Start-up data for the dedicated TUN reader thread (src/workers/tun-reader.ts). It is a
// plain worker_thread, not a piscina shard: it runs one blocking loop for the life of the
// broker. (The shards write to the TUN themselves: src/workers/tun-output.ts.)

/** Words of the control SharedArrayBuffer the TUN reader watches. */
export const TUN_CONTROL_STOP = 0;
export const TUN_CONTROL_WORDS = 1;

export interface TunReaderInit {
  tunFd: number;
  /** eventfd the main thread signals to wake the reader out of poll() (for stop). */
  wakeFd: number;
  control: SharedArrayBuffer;
  routeTable: SharedArrayBuffer;
  /** One ring per shard: TUN reader -> shard. */
  toTunnelRings: SharedArrayBuffer[];
  /** All data-plane counter blocks (CounterBlocks) and the index of this thread's block. */
  counters: SharedArrayBuffer;
  counterBlock: number;
  /**
   * DemandWords: the reader marks a link a packet wants while it has no tunnel and rings
   * the main thread, which dials it now instead of waiting out the backoff.
   */
  demand: SharedArrayBuffer;
  /** Bytes reserved per packet in a read batch (MTU plus headroom; 64 KiB + header with vnetHdr). */
  slotSize: number;
  /** The TUN was opened with vnetHdr: every packet read starts with a virtio_net_hdr, and
   *  ring records carry [virtio_net_hdr][IP packet]. */
  vnetHdr: boolean;
  /** Packets per readBatch call. */
  batchPackets: number;
  /** Poll timeout: how long an idle reader sleeps before re-checking the stop word. */
  idleWaitMs: number;
}
