// The data plane as the main thread sees it: the TUN device, the SharedArrayBuffers
// (rings, route table, counters) and the TUN reader thread. Each shard gets its ring from
// the reader and its own descriptor of the TUN, to which it writes what it receives
// (docs/architecture.md, "Data path: threads and copies"); the broker publishes routes
// and link->shard assignments.
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { loadNative, TunOffload, type NativeAddon } from '../../shared/native.js';
import { VNET_HDR_BYTES } from '../../shared/gso-header.js';
import { SpscRing } from '../../shared/spsc-ring.js';
import { requireIntegerIn } from '../../shared/integer-range.js';
import { MAX_LINKS_LIMIT, RouteTable, type RouteEntry } from '../../shared/route-table.js';
import { CounterBlocks } from '../../shared/counters.js';
import { DemandWords } from '../../shared/demand-words.js';
import { TUN_CONTROL_STOP, TUN_CONTROL_WORDS, type TunReaderInit } from '../../shared/tun-threads.js';
import type { Logger } from '../../shared/log.js';
import { MAX_MTU, MAX_WORKERS, MIN_MTU } from '../flags.js';
import type { ShardInit } from '../../shared/shard-protocol.js';
import type { LinkCapacity } from '../links/link-plan.js';
import type { MetricsSource } from './broker-metrics.js';

/** A shard's share of the data path: its ring, its TUN descriptor, its counter block (part of its ShardInit). */
export type ShardRings = Pick<ShardInit, 'toTunnelRing' | 'tunFd' | 'vnetHdr' | 'counters' | 'counterBlock'>;

export interface DatapathOptions {
  ifname: string;
  shards: number;
  mtu: number;
  /** Bytes of each ring (power of two). */
  ringBytes: number;
  /** Packets per TUN read batch. */
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

/**
 * Refuses options the data path cannot honour, naming the option, before anything is
 * allocated. The limits are those of the flags (--workers, --mtu) and of the shared
 * structures: link ids are ring tags (MAX_LINKS_LIMIT), ring sizes are what SpscRing accepts.
 */
export function validateDatapathOptions(options: DatapathOptions): DatapathOptions {
  const integerIn = (name: keyof DatapathOptions, min: number, max: number): void => requireIntegerIn(`datapath option ${name}`, options[name], min, max);
  integerIn('shards', 1, MAX_WORKERS);
  integerIn('mtu', MIN_MTU, MAX_MTU);
  integerIn('maxLinks', 1, MAX_LINKS_LIMIT);
  integerIn('batchPackets', 1, 1024);
  integerIn('idleWaitMs', 1, 60_000);
  SpscRing.byteLengthFor(options.ringBytes); // throws naming the accepted range
  return options;
}

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
const FIRST_SHARD_BLOCK = 1;

export function shardCounterBlock(shard: number): number {
  return FIRST_SHARD_BLOCK + shard;
}

export class Datapath {
  readonly toTunnelRings: SharedArrayBuffer[];
  /** Counter blocks: READER_BLOCK, then one per shard (shardCounterBlock). */
  readonly counters: SharedArrayBuffer;
  readonly counterBlocks: CounterBlocks;
  readonly routes: RouteTable;
  /** Read-only views for the drop counters in the ring headers. */
  private readonly ringViews: SpscRing[];
  private readonly routeTableSab: SharedArrayBuffer;
  private readonly demand: DemandWords;
  private readonly control = new SharedArrayBuffer(4 * TUN_CONTROL_WORDS);
  private readonly native: NativeAddon;
  private tunFd = -1;
  /** Each shard's descriptor of the TUN (a dup), closed when replaced or at stop. */
  private readonly shardTunFds = new Map<number, number>();
  private threadFailed = false;
  private wakeFd = -1;
  private threads: { worker: Worker; exited: Promise<void> }[] = [];
  readonly options: DatapathOptions;

  constructor(options: Partial<DatapathOptions> & Pick<DatapathOptions, 'ifname' | 'shards' | 'mtu'>, private readonly log: Logger) {
    this.options = validateDatapathOptions({ ...DEFAULT_DATAPATH_OPTIONS, ...options });
    this.native = loadNative();
    const ringSab = () => SpscRing.allocate(this.options.ringBytes);
    this.toTunnelRings = Array.from({ length: this.options.shards }, ringSab);
    this.ringViews = this.toTunnelRings.map((sab) => new SpscRing(sab));
    this.counters = CounterBlocks.allocate(FIRST_SHARD_BLOCK + this.options.shards);
    this.counterBlocks = new CounterBlocks(this.counters);
    this.routeTableSab = RouteTable.allocate({ capacityEntries: this.options.maxLinks * ROUTE_ENTRIES_PER_LINK, maxLinks: this.options.maxLinks });
    this.routes = new RouteTable(this.routeTableSab);
    this.demand = new DemandWords(DemandWords.allocate(this.options.maxLinks));
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

  /**
   * A descriptor of the TUN for shard `shard` to write received packets to: a dup of the
   * device's (one queue: every write() is one packet, so threads may share it; a second
   * IFF_MULTI_QUEUE queue would also get its share of the packets to read, which only
   * the reader does). A restarted shard gets a fresh one; the previous one is closed.
   */
  shardTunFd(shard: number): number {
    const previous = this.shardTunFds.get(shard);
    if (previous !== undefined) this.native.close(previous);
    const fd = this.native.dup(this.tunFd);
    this.shardTunFds.set(shard, fd);
    return fd;
  }

  /** Starts the TUN reader thread. */
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
      demand: this.demand.buffer,
      slotSize,
      vnetHdr: this.options.tunOffload,
      batchPackets: this.options.batchPackets,
      idleWaitMs: this.options.idleWaitMs,
    };
    this.threads = [this.spawn('tun-reader', new URL('../../workers/tun-reader.js', import.meta.url), reader)];
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

  /** False once the TUN reader died unexpectedly: the broker is no longer healthy. */
  get healthy(): boolean {
    return !this.threadFailed && this.threads.length === 1;
  }

  private readControl(): number {
    return Atomics.load(new Int32Array(this.control), TUN_CONTROL_STOP);
  }

  /** Packets dropped on full rings (TUN reader -> shards). */
  ringDrops(): number {
    let drops = 0;
    for (const ring of this.ringViews) drops += ring.drops();
    return drops;
  }

  /** Fill level (0..1) of each shard's ring. */
  ringFill(): { toTunnel: number }[] {
    return this.ringViews.map((ring) => ({ toTunnel: ring.usedBytes() / ring.capacity }));
  }

  /**
   * What one shard's worker gets: its ring from the TUN reader, its own TUN descriptor
   * (shardTunFd: a fresh one for a restarted shard), its counter block.
   */
  shardRings(shard: number): ShardRings {
    return {
      toTunnelRing: this.toTunnelRings[shard]!,
      tunFd: this.shardTunFd(shard),
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
    return { counterBlocks: this.counterBlocks, shardBlocks: Array.from({ length: this.options.shards }, (_, shard) => shardCounterBlock(shard)), ringDrops: () => this.ringDrops(), ringFill: () => this.ringFill() };
  }

  /** Resolves when a packet wanted a link without a tunnel since the last takeDemand (or on stop). */
  demandRung(): Promise<void> {
    return this.demand.rung();
  }

  /** Link ids that packets asked for while they had no tunnel; clears them. */
  takeDemand(): number[] {
    return this.demand.take();
  }

  publishRoutes(entries: RouteEntry[]): void {
    this.routes.publish(entries);
  }

  setLinkShard(linkId: number, shard: number): void {
    this.routes.setLinkShard(linkId, shard);
  }

  async stop(): Promise<void> {
    this.demand.wake();
    Atomics.store(new Int32Array(this.control), TUN_CONTROL_STOP, 1);
    if (this.wakeFd >= 0) this.native.signalEventFd(this.wakeFd);
    await Promise.all(this.threads.map((t) => t.exited));
    this.threads = [];
    // The shards have stopped (the broker stops them first): their descriptors are unused.
    for (const fd of this.shardTunFds.values()) this.native.close(fd);
    this.shardTunFds.clear();
    if (this.wakeFd >= 0) this.native.close(this.wakeFd);
    if (this.tunFd >= 0) this.native.close(this.tunFd);
    this.wakeFd = this.tunFd = -1;
  }
}
