// Destination -> link -> shard, published by the main thread and read by the TUN reader
// thread for every packet, without messages (docs/architecture.md, "Route table and demand").
//
//   Int32 words of the SharedArrayBuffer:
//   +---------+-------+----------+----------+------------------------------+----------------------+
//   | version | count | capacity | maxLinks | entries: network, prefixLen, | shard of link 0..    |
//   | seqlock |       | (entries)|          | linkId  (3 words each)       | maxLinks-1 (-1=none) |
//   +---------+-------+----------+----------+------------------------------+----------------------+
//
// Entries are a seqlock: the writer makes the version odd, rewrites them, makes it even
// again; a reader that saw the same even version before and after copying has a
// consistent table. Readers copy only when the version changed, into a compiled form: per
// distinct prefix length a Map from masked network to link, longest length first, so a
// lookup costs one Map get per distinct length (2 in practice: service CIDRs and /32
// cluster addresses), whatever the number of links.
// Link -> shard words change one at a time and need no seqlock.
import { prefixMask } from './cidr.js';
import { MAX_RECORD_TAG } from './spsc-ring.js';
import type { Ipv4Prefix } from './types.js';

export interface RouteEntry {
  /** Network address, unsigned 32-bit, host bits zero. */
  network: number;
  prefixLength: number;
  linkId: number;
}

export interface RouteTableOptions {
  /** Route entries the table can hold. Default 1024 (a link needs 2, plus one per egress prefix). */
  capacityEntries?: number;
  /** Link ids are 0..maxLinks-1. Default 1024, at most MAX_LINKS_LIMIT (ring tags stop at 0xFFFE). */
  maxLinks?: number;
}

export const NO_LINK = -1;
export const NO_SHARD = -1;

const VERSION = 0;
const COUNT = 1;
const CAPACITY = 2;
const MAX_LINKS = 3;
const HEADER_WORDS = 4;
const ENTRY_WORDS = 3;
const DEFAULT_CAPACITY_ENTRIES = 1024;
const DEFAULT_MAX_LINKS = 1024;
// A writer is inside publish() for microseconds; give up a refresh after this many tries
// and keep using the previous table until the next lookup.
const MAX_SEQLOCK_TRIES = 100_000;

/** Route entries of one link: its service CIDR (if any), its egress prefixes and its cluster address as a /32. */
export function linkRouteEntries(linkId: number, link: { serviceCidr?: Ipv4Prefix; egress?: readonly Ipv4Prefix[]; clusterAddress: number }): RouteEntry[] {
  const entries: RouteEntry[] = [];
  if (link.serviceCidr) entries.push({ network: link.serviceCidr.network, prefixLength: link.serviceCidr.prefixLength, linkId });
  for (const prefix of link.egress ?? []) entries.push({ network: prefix.network, prefixLength: prefix.prefixLength, linkId });
  entries.push({ network: link.clusterAddress >>> 0, prefixLength: 32, linkId });
  return entries;
}

/** Most link ids a route table can hold: ids 0..MAX_RECORD_TAG, the tags a ring record can carry. */
export const MAX_LINKS_LIMIT = MAX_RECORD_TAG + 1;

function resolveOptions(options: RouteTableOptions): Required<RouteTableOptions> {
  const capacityEntries = options.capacityEntries ?? DEFAULT_CAPACITY_ENTRIES;
  const maxLinks = options.maxLinks ?? DEFAULT_MAX_LINKS;
  if (!Number.isInteger(capacityEntries) || capacityEntries < 1) throw new RangeError(`capacityEntries must be a positive integer, got ${capacityEntries}`);
  // Link ids travel as the tags of ring records, which stop at MAX_RECORD_TAG.
  if (!Number.isInteger(maxLinks) || maxLinks < 1 || maxLinks > MAX_LINKS_LIMIT) throw new RangeError(`maxLinks must be 1..${MAX_LINKS_LIMIT} (link ids are ring tags, at most ${MAX_RECORD_TAG}), got ${maxLinks}`);
  return { capacityEntries, maxLinks };
}

export class RouteTable {
  static byteLengthFor(options: RouteTableOptions = {}): number {
    const { capacityEntries, maxLinks } = resolveOptions(options);
    return 4 * (HEADER_WORDS + ENTRY_WORDS * capacityEntries + maxLinks);
  }

  /** A new, empty table (every link without a shard), to share with the readers. */
  static allocate(options: RouteTableOptions = {}): SharedArrayBuffer {
    const { capacityEntries, maxLinks } = resolveOptions(options);
    const sab = new SharedArrayBuffer(RouteTable.byteLengthFor(options));
    const words = new Int32Array(sab);
    words[CAPACITY] = capacityEntries;
    words[MAX_LINKS] = maxLinks;
    words.fill(NO_SHARD, HEADER_WORDS + ENTRY_WORDS * capacityEntries);
    return sab;
  }

  readonly capacityEntries: number;
  readonly maxLinks: number;
  private readonly words: Int32Array;
  private readonly shards: Int32Array;
  // Reader side: the compiled copy and the version it was made from (-1: none yet).
  private seenVersion = -1;
  private masks = new Int32Array(0);
  private maps: Map<number, number>[] = [];

  /** Attaches to a buffer made by `allocate` (the layout is read from its header). */
  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
    this.capacityEntries = this.words[CAPACITY]!;
    this.maxLinks = this.words[MAX_LINKS]!;
    if (this.capacityEntries < 1 || this.maxLinks < 1 || sab.byteLength !== RouteTable.byteLengthFor(this)) {
      throw new RangeError('buffer was not made by RouteTable.allocate');
    }
    this.shards = new Int32Array(sab, 4 * (HEADER_WORDS + ENTRY_WORDS * this.capacityEntries), this.maxLinks);
  }

  // ---- writer (one thread: main) -----------------------------------------------------

  /** Replaces all entries. Validates first, so a bad entry never leaves the table odd. */
  publish(entries: readonly RouteEntry[]): void {
    if (entries.length > this.capacityEntries) {
      throw new RangeError(`${entries.length} route entries exceed the table capacity ${this.capacityEntries}`);
    }
    for (const entry of entries) this.validateEntry(entry);
    const words = this.words;
    const version = Atomics.load(words, VERSION);
    Atomics.store(words, VERSION, version + 1);
    Atomics.store(words, COUNT, entries.length);
    let at = HEADER_WORDS;
    for (const entry of entries) {
      Atomics.store(words, at, entry.network | 0);
      Atomics.store(words, at + 1, entry.prefixLength);
      Atomics.store(words, at + 2, entry.linkId);
      at += ENTRY_WORDS;
    }
    Atomics.store(words, VERSION, (version + 2) | 0);
  }

  /** Assigns a link to a shard; NO_SHARD (-1) when it has no tunnel. */
  setLinkShard(linkId: number, shard: number): void {
    this.checkLinkId(linkId);
    if (!Number.isInteger(shard) || shard < NO_SHARD) throw new RangeError(`shard must be an index or ${NO_SHARD}, got ${shard}`);
    Atomics.store(this.shards, linkId, shard);
  }

  // ---- reader (any thread) -----------------------------------------------------------

  /** Link whose entry holds `destination` (longest prefix), or NO_LINK. */
  lookup(destination: number): number {
    if (Atomics.load(this.words, VERSION) !== this.seenVersion) this.refresh();
    const key = destination | 0;
    const masks = this.masks;
    const maps = this.maps;
    for (let i = 0; i < masks.length; i++) {
      const linkId = maps[i]!.get(key & masks[i]!);
      if (linkId !== undefined) return linkId;
    }
    return NO_LINK;
  }

  /** Shard that owns the link's tunnel, or NO_SHARD. */
  shardOf(linkId: number): number {
    return linkId >= 0 && linkId < this.maxLinks ? Atomics.load(this.shards, linkId) : NO_SHARD;
  }

  /** Rebuilds the compiled copy if the writer published since. `lookup` calls it. */
  refresh(): void {
    const words = this.words;
    for (let tries = 0; tries < MAX_SEQLOCK_TRIES; tries++) {
      const before = Atomics.load(words, VERSION);
      if (before === this.seenVersion) return;
      if ((before & 1) !== 0) continue;
      const count = Math.min(Atomics.load(words, COUNT), this.capacityEntries);
      const byLength = new Map<number, Map<number, number>>();
      for (let i = 0, at = HEADER_WORDS; i < count; i++, at += ENTRY_WORDS) {
        const prefixLength = Atomics.load(words, at + 1);
        let map = byLength.get(prefixLength);
        if (!map) byLength.set(prefixLength, (map = new Map()));
        map.set(Atomics.load(words, at) & prefixMask(prefixLength), Atomics.load(words, at + 2));
      }
      if (Atomics.load(words, VERSION) !== before) continue;
      const lengths = [...byLength.keys()].sort((a, b) => b - a);
      this.masks = Int32Array.from(lengths, (length) => prefixMask(length) | 0);
      this.maps = lengths.map((length) => byLength.get(length)!);
      this.seenVersion = before;
      return;
    }
  }

  private validateEntry(entry: RouteEntry): void {
    const { network, prefixLength, linkId } = entry;
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
      throw new RangeError(`route prefix length must be 0..32, got ${prefixLength}`);
    }
    if (!Number.isInteger(network) || network < 0 || network > 0xffffffff || ((network & prefixMask(prefixLength)) >>> 0) !== network) {
      throw new RangeError(`route network ${network} is not a /${prefixLength} network address`);
    }
    this.checkLinkId(linkId);
  }

  private checkLinkId(linkId: number): void {
    if (!Number.isInteger(linkId) || linkId < 0 || linkId >= this.maxLinks) {
      throw new RangeError(`link id must be 0..${this.maxLinks - 1}, got ${linkId}`);
    }
  }
}
