// The data plane as the main thread sees it: the TUN device, the SharedArrayBuffers
// (rings, route table, counters) and the two TUN threads. The shards get their halves of
// the rings through shardInit(); the broker publishes routes and link->shard assignments.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { loadNative, TunOffload, type NativeAddon } from '../../shared/native.js';
import { VNET_HDR_BYTES } from '../../shared/gso-header.js';
import { SpscRing } from '../../shared/spsc-ring.js';
import { RouteTable, type RouteEntry } from '../../shared/route-table.js';
import { CounterBlocks } from '../../shared/counters.js';
import { TUN_CONTROL_STOP, TUN_CONTROL_WORDS, type TunReaderInit, type TunWriterInit } from '../../shared/tun-threads.js';
import type { Logger } from '../../shared/log.js';
import type { ShardInit } from '../../shared/shard-protocol.js';
import type { LinkCapacity } from '../links/link-plan.js';
import type { MetricsSource } from './broker-metrics.js';

/** A shard's share of the data path's shared memory (part of its ShardInit). */
export type ShardRings = Pick<ShardInit, 'toTunnelRing' | 'toTunRing' | 'toTunSignal' | 'vnetHdr' | 'counters' | 'counterBlock'>;

export interface DatapathOptions {
  ifname: string;
  shards: number;
  mtu: number;
  /** Bytes of each ring (power of two). */
  ringBytes: number;
  /** Packets per TUN read or write batch. */
  batchPackets: number;
  /** Most link ids the route table and demand words hold. */
  maxLinks: number;
  idleWaitMs: number;
  /**
   * Open the TUN with the virtio-net header and TSO/checksum offloads: the kernel hands out
   * TCP super-packets of up to 64 KiB (one TUN read, ring record and frame instead of ~45)
   * and takes them back on the far side. Off: one MTU-sized packet per read, as before.
   */
  tunOffload: boolean;
}

export const DEFAULT_DATAPATH_OPTIONS: Omit<DatapathOptions, 'ifname' | 'shards' | 'mtu'> = {
  ringBytes: 4 * 1024 * 1024,
  batchPackets: 64,
  maxLinks: 1024,
  idleWaitMs: 500,
  tunOffload: false,
};

/** Offloads asked of the kernel with tunOffload: checksums, TCPv4 segmentation (also with ECN). */
const TUN_OFFLOAD_FLAGS = TunOffload.csum | TunOffload.tso4 | TunOffload.tsoEcn;
/** Read slot with tunOffload: header + the largest IPv4 packet, rounded up to 8 bytes. */
const OFFLOAD_SLOT_BYTES = (VNET_HDR_BYTES + 0xffff + 7) & ~7;

/**
 * Route table entries per link id: cidr and cluster address take 2, the rest is room for
 * egress prefixes (the broker marks links Invalid beyond the total, never fails).
 */
const ROUTE_ENTRIES_PER_LINK = 8;

export const READER_BLOCK = 0;
export const WRITER_BLOCK = 1;
const FIRST_SHARD_BLOCK = 2;

export function shardCounterBlock(shard: number): number {
  return FIRST_SHARD_BLOCK + shard;
}

export class Datapath {
  readonly toTunnelRings: SharedArrayBuffer[];
  readonly toTunRings: SharedArrayBuffer[];
  readonly toTunSignal = new SharedArrayBuffer(4);
  /** Counter blocks: READER_BLOCK, WRITER_BLOCK, then one per shard (shardCounterBlock). */
  readonly counters: SharedArrayBuffer;
  readonly counterBlocks: CounterBlocks;
  readonly routes: RouteTable;
  /** Read-only views for the drop counters in the ring headers. */
  private readonly ringViews: SpscRing[];
  private readonly routeTableSab: SharedArrayBuffer;
  private readonly demand: Int32Array;
  private readonly control = new SharedArrayBuffer(4 * TUN_CONTROL_WORDS);
  private readonly native: NativeAddon;
  private tunFd = -1;
  private threadFailed = false;
  private wakeFd = -1;
  private threads: { worker: Worker; exited: Promise<void> }[] = [];
  readonly options: DatapathOptions;

  constructor(options: Partial<DatapathOptions> & Pick<DatapathOptions, 'ifname' | 'shards' | 'mtu'>, private readonly log: Logger) {
    this.options = { ...DEFAULT_DATAPATH_OPTIONS, ...options };
    this.native = loadNative();
    const ringSab = () => SpscRing.allocate(this.options.ringBytes);
    this.toTunnelRings = Array.from({ length: this.options.shards }, ringSab);
    this.toTunRings = Array.from({ length: this.options.shards }, ringSab);
    this.ringViews = [...this.toTunnelRings, ...this.toTunRings].map((sab) => new SpscRing(sab));
    this.counters = CounterBlocks.allocate(FIRST_SHARD_BLOCK + this.options.shards);
    this.counterBlocks = new CounterBlocks(this.counters);
    this.routeTableSab = RouteTable.allocate({ capacityEntries: this.options.maxLinks * ROUTE_ENTRIES_PER_LINK, maxLinks: this.options.maxLinks });
    this.routes = new RouteTable(this.routeTableSab);
    this.demand = new Int32Array(new SharedArrayBuffer(4 * this.options.maxLinks));
  }

  /** Ring records carry a virtio_net_hdr before each packet (the shards must know). */
  get vnetHdr(): boolean {
    return this.options.tunOffload;
  }

  /** Opens the TUN device (the caller configures address, MTU and link state). */
  openTun(): string {
    const tun = this.native.openTun(this.options.ifname, { vnetHdr: this.options.tunOffload });
    if (this.options.tunOffload) {
      try {
        this.native.setTunOffload(tun.fd, TUN_OFFLOAD_FLAGS);
      } catch (err) {
        this.native.close(tun.fd);
        throw new Error(`cannot enable TSO/checksum offloads on TUN device ${tun.name}; run with --tun-offload=false`, { cause: err });
      }
    }
    this.tunFd = tun.fd;
    return tun.name;
  }

  /** Starts the TUN reader and writer threads. */
  async startThreads(): Promise<void> {
    this.wakeFd = this.native.createEventFd();
    const slotSize = this.options.tunOffload ? OFFLOAD_SLOT_BYTES : this.options.mtu + 64;
    const reader: TunReaderInit = {
      tunFd: this.tunFd,
      wakeFd: this.wakeFd,
      control: this.control,
      routeTable: this.routeTableSab,
      toTunnelRings: this.toTunnelRings,
      counters: this.counters,
      counterBlock: READER_BLOCK,
      demand: this.demand.buffer as SharedArrayBuffer,
      slotSize,
      vnetHdr: this.options.tunOffload,
      batchPackets: this.options.batchPackets,
      idleWaitMs: this.options.idleWaitMs,
    };
    const writer: TunWriterInit = {
      tunFd: this.tunFd,
      control: this.control,
      toTunRings: this.toTunRings,
      signal: this.toTunSignal,
      counters: this.counters,
      counterBlock: WRITER_BLOCK,
      batchPackets: this.options.batchPackets,
      vnetHdr: this.options.tunOffload,
      slotSize,
      idleWaitMs: this.options.idleWaitMs,
    };
    this.threads = [
      this.spawn('tun-reader', new URL('../../workers/tun-reader.js', import.meta.url), reader),
      this.spawn('tun-writer', new URL('../../workers/tun-writer.js', import.meta.url), writer),
    ];
    await Promise.all(this.threads.map((t) => once(t.worker, 'online')));
  }

  private spawn(name: string, url: URL, workerData: unknown): { worker: Worker; exited: Promise<void> } {
    const worker = new Worker(url, { workerData, name });
    worker.on('error', (err) => this.log.error('TUN thread failed', { thread: name, err }));
    const exited = new Promise<void>((resolve) => {
      worker.on('exit', (code) => {
        if (code !== 0 || this.readControl() === 0) {
          this.log.error('TUN thread exited', { thread: name, code });
          this.threadFailed = true;
        }
        resolve();
      });
    });
    return { worker, exited };
  }

  /** False once a TUN thread died unexpectedly: the broker is no longer healthy. */
  get healthy(): boolean {
    return !this.threadFailed && this.threads.length === 2;
  }

  private readControl(): number {
    return Atomics.load(new Int32Array(this.control), TUN_CONTROL_STOP);
  }

  /** Packets dropped on full rings, in both directions. */
  ringDrops(): number {
    let drops = 0;
    for (const ring of this.ringViews) drops += ring.drops();
    return drops;
  }

  /** Fill level (0..1) of each shard's to-tunnel and to-TUN rings. */
  ringFill(): { toTunnel: number; toTun: number }[] {
    const shards = this.options.shards;
    return Array.from({ length: shards }, (_, i) => ({
      toTunnel: this.ringViews[i]!.usedBytes() / this.ringViews[i]!.capacity,
      toTun: this.ringViews[shards + i]!.usedBytes() / this.ringViews[shards + i]!.capacity,
    }));
  }

  /** Names of the counter blocks, in block order (metric labels). */
  blockNames(): string[] {
    return ['tun-reader', 'tun-writer', ...Array.from({ length: this.options.shards }, (_, i) => `shard-${i}`)];
  }

  /** What one shard's worker gets of the shared memory: its two rings, the doorbell, its counter block. */
  shardRings(shard: number): ShardRings {
    return {
      toTunnelRing: this.toTunnelRings[shard]!,
      toTunRing: this.toTunRings[shard]!,
      toTunSignal: this.toTunSignal,
      vnetHdr: this.vnetHdr,
      counters: this.counters,
      counterBlock: shardCounterBlock(shard),
    };
  }

  /** How many links and route destinations this data path can serve (the link plan's capacity). */
  get capacity(): LinkCapacity {
    return { links: this.options.maxLinks, routeEntries: this.routes.capacityEntries };
  }

  /** What /metrics reads from the shared memory. */
  metricsSource(): MetricsSource {
    return { counterBlocks: this.counterBlocks, blockNames: this.blockNames(), ringDrops: () => this.ringDrops(), ringFill: () => this.ringFill() };
  }

  /** Link ids that packets asked for while they had no tunnel; clears them. */
  takeDemand(): number[] {
    const wanted: number[] = [];
    for (let id = 0; id < this.demand.length; id++) {
      if (this.demand[id] !== 0 && Atomics.exchange(this.demand, id, 0) !== 0) wanted.push(id);
    }
    return wanted;
  }

  publishRoutes(entries: RouteEntry[]): void {
    this.routes.publish(entries);
  }

  setLinkShard(linkId: number, shard: number): void {
    this.routes.setLinkShard(linkId, shard);
  }

  async stop(): Promise<void> {
    Atomics.store(new Int32Array(this.control), TUN_CONTROL_STOP, 1);
    if (this.wakeFd >= 0) this.native.signalEventFd(this.wakeFd);
    const signal = new Int32Array(this.toTunSignal);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
    await Promise.all(this.threads.map((t) => t.exited));
    this.threads = [];
    if (this.wakeFd >= 0) this.native.close(this.wakeFd);
    if (this.tunFd >= 0) this.native.close(this.tunFd);
    this.wakeFd = this.tunFd = -1;
  }
}
