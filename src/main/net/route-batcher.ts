// The one way kubelink reads and changes kernel routes: rtnetlink from the process, no
// `ip` fork per route. A whole reconcile's changes go to the kernel as one batch (one
// exchange, a few sendmsg/recvmmsg calls, on the libuv thread pool), and every change
// gets its own ack, so one bad route fails alone. See native/src/netlink.c for the
// exchange and rtnetlink.ts for the messages.
//
// Why not an npm netlink library: `netlink` (the only maintained-looking one) sends one
// message per request and waits for its reply (no batching: 252 routes would be 252
// round trips and event-loop wake-ups), ships a C++ addon of its own next to ours, and
// checks neither sequence numbers nor per-message errors in a batch.
import { loadNative } from '../../shared/native.js';
import type { NativeAddon } from '../../shared/native.js';
import {
  RT_TABLE_MAIN,
  ackOf,
  encodeLinkQueries,
  encodeRouteChanges,
  encodeRouteDump,
  parseReplies,
} from './rtnetlink.js';
import type { KernelRoute, NetlinkAck, NetlinkReplies, RouteChange } from './rtnetlink.js';

export type { KernelRoute, NetlinkAck, RouteChange } from './rtnetlink.js';

/** What GatewayNet needs from the kernel's routing table; tests substitute their own. */
export interface RouteBatcher {
  /** IPv4 routes of `protocol` in the main table. */
  dumpRoutes(protocol: number): Promise<KernelRoute[]>;
  /** Interface indexes of `names`; a name without a device maps to its error. */
  linkIndexes(names: readonly string[]): Promise<Map<string, number | NetlinkAck>>;
  /** Interface names of `indexes` (unknown ones are left out). */
  linkNames(indexes: readonly number[]): Promise<Map<number, string>>;
  /** Applies `changes` as one batch; the kernel's answer to each, in order. */
  apply(changes: readonly RouteChange[]): Promise<NetlinkAck[]>;
  close(): void;
}

export interface NetlinkRouteBatcherOptions {
  /** Network namespace (name under /run/netns, or a path) to work in; default: the process's own. */
  netns?: string;
  /** How long one exchange may wait for the kernel (ms); default 10 000. */
  timeoutMs?: number;
  native?: Pick<NativeAddon, 'netlinkOpen' | 'netlinkExchange' | 'close'>;
}

const DUMP_RETRIES = 3;
/** Never expected: the exchange completes only once every request has its answer. */
const NO_ANSWER: NetlinkAck = ackOf(5, 'the kernel gave no answer to this request');

export class NetlinkRouteBatcher implements RouteBatcher {
  private fd: number | undefined;
  private nextSeq = 1;
  /** Exchanges run one at a time: replies are matched by sequence number on one socket. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly native: Pick<NativeAddon, 'netlinkOpen' | 'netlinkExchange' | 'close'>;
  private readonly netnsPath: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: NetlinkRouteBatcherOptions = {}) {
    this.native = options.native ?? loadNative();
    const ns = options.netns;
    this.netnsPath = ns === undefined ? undefined : ns.includes('/') ? ns : `/run/netns/${ns}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Sends `build(firstSeq)` (count messages) and parses the replies. */
  private exchange(count: number, build: (firstSeq: number) => Uint8Array, dumpSeqs: (firstSeq: number) => number[] = () => []): Promise<{ firstSeq: number; replies: NetlinkReplies }> {
    const run = async () => {
      this.fd ??= this.native.netlinkOpen(this.netnsPath);
      // Sequence numbers stay below 2^31 and never wrap inside one exchange.
      if (this.nextSeq + count >= 0x7fffffff) this.nextSeq = 1;
      const firstSeq = this.nextSeq;
      this.nextSeq += count;
      const bytes = await this.native.netlinkExchange(this.fd, build(firstSeq), this.timeoutMs);
      return { firstSeq, replies: parseReplies(bytes, new Set(dumpSeqs(firstSeq))) };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async dumpRoutes(protocol: number): Promise<KernelRoute[]> {
    for (let attempt = 1; ; attempt++) {
      const { firstSeq, replies } = await this.exchange(1, (seq) => encodeRouteDump(seq, { table: RT_TABLE_MAIN, protocol }), (seq) => [seq]);
      const failure = replies.dumpErrors.get(firstSeq);
      if (failure) throw new Error(`route dump failed: ${failure.code}${failure.message ? `: ${failure.message}` : ''}`);
      // A table changed during the dump may have been listed partly twice or not at all.
      if (replies.interrupted && attempt < DUMP_RETRIES) continue;
      return replies.routes.filter((r) => r.protocol === protocol && r.table === RT_TABLE_MAIN);
    }
  }

  async linkIndexes(names: readonly string[]): Promise<Map<string, number | NetlinkAck>> {
    const result = new Map<string, number | NetlinkAck>();
    if (names.length === 0) return result;
    const { firstSeq, replies } = await this.exchange(names.length, (seq) => encodeLinkQueries(names, seq));
    const byName = new Map(replies.links.map((l) => [l.name, l.index]));
    names.forEach((name, i) => {
      const index = byName.get(name);
      const ack = replies.acks.get(firstSeq + i);
      result.set(name, index ?? (ack && ack.errno !== 0 ? ack : NO_ANSWER));
    });
    return result;
  }

  async linkNames(indexes: readonly number[]): Promise<Map<number, string>> {
    if (indexes.length === 0) return new Map();
    const { replies } = await this.exchange(indexes.length, (seq) => encodeLinkQueries(indexes, seq));
    return new Map(replies.links.map((l) => [l.index, l.name]));
  }

  async apply(changes: readonly RouteChange[]): Promise<NetlinkAck[]> {
    if (changes.length === 0) return [];
    const { firstSeq, replies } = await this.exchange(changes.length, (seq) => encodeRouteChanges(changes, seq));
    return changes.map((_, i) => replies.acks.get(firstSeq + i) ?? NO_ANSWER);
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    // Closed after the exchanges already queued.
    void this.queue.then(() => this.native.close(fd));
  }
}
