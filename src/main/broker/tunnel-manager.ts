// Keeps one tunnel per served link: gives links stable numeric ids, dials them (eagerly
// when they appear, on demand when packets wait for them, with backoff after failures;
// all through one DialPacer that caps our handshakes in flight), adopts accepted
// connections, decides between simultaneous connections, and tells the data path which
// shard carries each link. Link state (Up/Down/Error) comes from here (docs/architecture.md,
// "How a KubeLink flows").
import type { Logger } from '../../shared/log.js';
import type { ConnectionTraffic, MainToShard, ShardLink, ShardToMain } from '../../shared/shard-protocol.js';
import type { LinkState, ValidLink } from '../../shared/types.js';
import { linkRouteEntries, type RouteEntry } from '../../shared/route-table.js';
import { compileInboundPeer } from '../../shared/inbound-filter.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from '../../shared/backoff.js';
import type { HelloDns } from '../../shared/wire.js';
import { chooseTunnel } from './tunnel-choice.js';
import { tunnelPeerChanged } from '../../shared/tunnel-peer.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { DEFAULT_DIAL_JITTER_MS, DEFAULT_MAX_DIALS_IN_FLIGHT, DialPacer } from './dial-pacer.js';

export interface TunnelManagerOptions {
  localClusterAddress: number;
  maxLinks: number;
  backoff?: Partial<BackoffOptions>;
  /** A link whose tunnel saw no frame for this long is reported Down even if not yet closed. */
  staleAfterMs: number;
  /**
   * Packets waiting for a down link dial it at once, but no more often than this: a peer
   * that stays down under steady traffic is not dialed in a tight loop. Default 2000 ms.
   */
  demandRedialMs?: number;
  /** Outbound handshakes in flight at once (--max-dials-in-flight). Default 16. */
  maxDialsInFlight?: number;
  /** Fresh dials start at a random point within this many ms. Default 200. */
  dialJitterMs?: number;
  /** Time for dial pacing, backoff and the demand rate limit; injectable for tests. */
  clock?: Clock;
  /** Randomness of the dial jitter, in [0, 1). */
  random?: () => number;
}

/** What the manager needs from the shards (implemented by ShardSupervisor; faked in tests). */
export interface ShardChannel {
  send(shard: number, msg: MainToShard): void;
  broadcast(msg: MainToShard): void;
  assign(): number;
  release(shard: number): void;
}

/** What the manager needs from the data path (implemented by Datapath; faked in tests). */
export interface TunnelDatapath {
  publishRoutes(entries: RouteEntry[]): void;
  setLinkShard(linkId: number, shard: number): void;
}

export interface LinkStatusReport {
  name: string;
  state: LinkState;
  message: string;
  /** The cluster DNS the peer announced in its last hello (absent from older brokers). */
  peerDns?: HelloDns;
  /** The mesh DNS port the peer announced in its last hello (0: none; absent from older brokers). */
  peerMeshDnsPort?: number;
}

interface ConnectionRecord {
  connId: number;
  shard: number;
  dialed: boolean;
  linkId: number | null;
  /** A dial of ours still in its handshake: it holds a place in the pacer. */
  pacing: boolean;
  /** The traffic this connection last reported, so each report adds only what is new. */
  reported: ConnectionTraffic;
  /** Source address of an accepted connection while it is a pending handshake. */
  pendingFrom?: string;
  /** When this connection last reported a keepalive round trip within the staleness bound. */
  healthyAt?: number;
  /** Closed by the contention rule: logged there, once per hold-off period, not again on close. */
  refusedForContention?: boolean;
}

const NO_TRAFFIC: ConnectionTraffic = Object.freeze({ txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 });

interface LinkEntry {
  linkId: number;
  link: ValidLink;
  active: ConnectionRecord | undefined;
  /** The outstanding dial, if any: at most one per link. */
  dialing: number | undefined;
  backoff: Backoff;
  /** What the tunnel says (Up once established and keepalives flow). */
  tunnelState: LinkState;
  tunnelMessage: string;
  /** The link's routes into the TUN are in place (the last route reconcile installed them). */
  routed: boolean;
  /** What is reported: Up only when the tunnel is Up AND the link is routed. */
  state: LinkState;
  message: string;
  rttMs: number | null;
  lastReceiveAgeMs: number;
  reconnects: number;
  /** When this link was last dialed (the demand rate limit's clock). */
  lastDialAt: number;
  /** Traffic over all of the link's connections, as of their last reports (every keepalive). */
  traffic: ConnectionTraffic;
  /** When a newcomer last replaced this link's healthy tunnel (contention rule). */
  lastReplacedHealthyAt: number;
  /** Newcomers refused or let in while the link's tunnel was healthy, for the metric. */
  contention: { replaced: number; refused: number };
  /** Refusals since the last one logged: one log line per hold-off period, not per attempt. */
  unloggedRefusals: number;
  peerDns: HelloDns | undefined;
  peerMeshDnsPort: number | undefined;
  /** The malformed hello extensions last logged for this link: logged once, not per reconnect. */
  loggedBadHello: string | undefined;
}

export interface LinkSnapshot {
  name: string;
  linkId: number;
  state: LinkState;
  message: string;
  shard: number | null;
  rttMs: number | null;
  reconnects: number;
  traffic: ConnectionTraffic;
  contention: { replaced: number; refused: number };
}

export class TunnelManager {
  private readonly links = new Map<string, LinkEntry>();
  private readonly byId: (LinkEntry | undefined)[] = [];
  private readonly connections = new Map<number, ConnectionRecord>();
  private nextConnId = 1;
  private stopped = false;
  private pendingTotal = 0;
  private readonly pendingByAddress = new Map<string, number>();
  private readonly clock: Clock;
  readonly pacer: DialPacer;
  handshakeFailures = 0;

  constructor(
    private readonly options: TunnelManagerOptions,
    private readonly shards: ShardChannel,
    private readonly datapath: TunnelDatapath,
    private readonly onStatus: (report: LinkStatusReport) => void,
    private readonly log: Logger,
  ) {
    this.clock = options.clock ?? systemClock;
    this.pacer = new DialPacer(
      {
        maxInFlight: options.maxDialsInFlight ?? DEFAULT_MAX_DIALS_IN_FLIGHT,
        jitterMs: options.dialJitterMs ?? DEFAULT_DIAL_JITTER_MS,
        clock: this.clock,
        random: options.random,
      },
      (linkId) => this.startPacedDial(linkId),
    );
  }

  /**
   * Replaces the set of served links: new ones are dialed, removed ones closed. The shards
   * learn the new set before any dial of it is asked for: a dial the pacer starts at once
   * (zero jitter) would otherwise reach a shard ahead of the link, and a handshake that
   * finishes while this loop still runs (tens of ms for a hundred links) would find no link
   * for the peer's certificate (issue 8's handshake failure during a re-add).
   */
  setLinks(valid: ValidLink[]): void {
    const wanted = new Map(valid.map((l) => [l.name, l]));
    const toDial: LinkEntry[] = [];
    for (const [name, entry] of this.links) {
      const next = wanted.get(name);
      if (!next) this.removeLink(entry, `link ${name} removed`);
      else if (tunnelPeerChanged(entry.link, next)) {
        // A different peer: the old tunnel is closed (by the shards on the 'links' message
        // below) and the link dialed again.
        entry.link = next;
        entry.backoff.reset();
        this.closeConnectionsOf(entry, `link ${name} changed its endpoint or cluster address`);
        toDial.push(entry);
      } else {
        entry.link = next;
      }
    }
    for (const [name, link] of wanted) {
      if (this.links.has(name)) continue;
      const linkId = this.freeLinkId();
      const entry: LinkEntry = {
        linkId,
        link,
        active: undefined,
        dialing: undefined,
        backoff: new Backoff(this.options.backoff),
        tunnelState: 'Down',
        tunnelMessage: 'connecting',
        routed: false,
        state: 'Down',
        message: 'connecting',
        rttMs: null,
        lastReceiveAgeMs: 0,
        reconnects: 0,
        lastDialAt: Number.NEGATIVE_INFINITY,
        traffic: { ...NO_TRAFFIC },
        lastReplacedHealthyAt: Number.NEGATIVE_INFINITY,
        contention: { replaced: 0, refused: 0 },
        unloggedRefusals: 0,
        peerDns: undefined,
        peerMeshDnsPort: undefined,
        loggedBadHello: undefined,
      };
      this.links.set(name, entry);
      this.byId[linkId] = entry;
      this.report(entry, 'Down', `connecting to ${link.endpointHost}:${link.endpointPort}`, true);
      toDial.push(entry);
    }
    this.datapath.publishRoutes(this.routeEntries());
    this.shards.broadcast({ type: 'links', links: this.shardLinks() });
    for (const entry of toDial) this.scheduleDial(entry, 0, true);
  }

  /** The data path's destination table: each link's service CIDR, egress and cluster address. */
  routeEntries(): RouteEntry[] {
    return [...this.links.values()].flatMap((e) => linkRouteEntries(e.linkId, e.link));
  }

  shardLinks(): ShardLink[] {
    return [...this.links.values()].map((e) => ({
      linkId: e.linkId,
      name: e.link.name,
      endpointHost: e.link.endpointHost,
      endpointPort: e.link.endpointPort,
      clusterAddress: e.link.clusterAddress,
      ...(e.link.serviceCidr ? { serviceCidr: e.link.serviceCidr } : {}),
      inbound: compileInboundPeer(e.link),
    }));
  }

  /** An accepted TCP connection whose fd was dup()ed for a shard; `address` is its source address. */
  adopt(fd: number, remote: string, address = remote.slice(0, remote.lastIndexOf(':'))): void {
    const connId = this.nextConnId++;
    const shard = this.shards.assign();
    this.connections.set(connId, { connId, shard, dialed: false, linkId: null, pacing: false, reported: NO_TRAFFIC, pendingFrom: address });
    this.pendingTotal++;
    this.pendingByAddress.set(address, (this.pendingByAddress.get(address) ?? 0) + 1);
    this.shards.send(shard, { type: 'adopt', connId, fd, remote });
  }

  /** Packets are waiting for these links: dial now (as the pacer allows) those that wait out a backoff. */
  onDemand(linkIds: number[]): void {
    const now = this.clock.now();
    const minInterval = this.options.demandRedialMs ?? 2000;
    for (const id of linkIds) {
      const entry = this.byId[id];
      if (entry && !entry.active && entry.dialing === undefined && now - entry.lastDialAt >= minInterval) this.scheduleDial(entry, 0, false);
    }
  }

  onShardMessage(shard: number, msg: ShardToMain): void {
    switch (msg.type) {
      case 'established':
        this.onEstablished(shard, msg);
        break;
      case 'closed':
        if (msg.traffic) this.account(msg.connId, msg.traffic);
        this.onClosed(msg.connId, msg.reason, msg.handshakeFailure);
        break;
      case 'health': {
        this.account(msg.connId, msg.traffic);
        const entry = this.byId[msg.linkId];
        const conn = this.connections.get(msg.connId);
        if (conn && msg.rttMs !== null && msg.lastReceiveAgeMs <= this.options.staleAfterMs) conn.healthyAt = this.clock.now();
        if (entry?.active?.connId === msg.connId) {
          entry.rttMs = msg.rttMs;
          entry.lastReceiveAgeMs = msg.lastReceiveAgeMs;
          if (msg.lastReceiveAgeMs > this.options.staleAfterMs) {
            this.report(entry, 'Down', `no keepalive for ${msg.lastReceiveAgeMs} ms`);
          } else {
            // A keepalive went round: the tunnel works, not merely handshakes. Resetting on
            // 'established' would redial every initialMs a peer that refuses us after the hello.
            if (msg.rttMs !== null) entry.backoff.reset();
            this.report(entry, 'Up', upMessage(entry));
          }
        }
        break;
      }
    }
  }

  /** Every connection of a dead shard is gone. */
  onShardLost(shard: number): void {
    for (const conn of [...this.connections.values()]) {
      if (conn.shard === shard) this.onClosed(conn.connId, 'shard worker died', false);
    }
  }

  /** Accepted connections that have not yet named their link (TLS handshake and hello). */
  pendingAccepts(): number {
    return this.pendingTotal;
  }

  /** The same, from one source address. */
  pendingAcceptsFrom(address: string): number {
    return this.pendingByAddress.get(address) ?? 0;
  }

  /** An accepted connection stops being a pending handshake (identified or closed). */
  private endPending(conn: ConnectionRecord): void {
    if (conn.pendingFrom === undefined) return;
    const left = (this.pendingByAddress.get(conn.pendingFrom) ?? 1) - 1;
    if (left > 0) this.pendingByAddress.set(conn.pendingFrom, left);
    else this.pendingByAddress.delete(conn.pendingFrom);
    this.pendingTotal--;
    conn.pendingFrom = undefined;
  }

  /** Open connections (handshaking, established or carrying a link). */
  connectionCount(): number {
    return this.connections.size;
  }

  snapshot(): LinkSnapshot[] {
    return [...this.links.values()].map((e) => ({
      name: e.link.name,
      linkId: e.linkId,
      state: e.state,
      message: e.message,
      shard: e.active?.shard ?? null,
      rttMs: e.rttMs,
      reconnects: e.reconnects,
      traffic: { ...e.traffic },
      contention: { ...e.contention },
    }));
  }

  /** Adds what a connection carried since its last report to its link's totals. */
  private account(connId: number, traffic: ConnectionTraffic): void {
    const conn = this.connections.get(connId);
    const entry = conn?.linkId != null ? this.byId[conn.linkId] : undefined;
    if (!conn || !entry) return;
    entry.traffic.txPackets += traffic.txPackets - conn.reported.txPackets;
    entry.traffic.txBytes += traffic.txBytes - conn.reported.txBytes;
    entry.traffic.rxPackets += traffic.rxPackets - conn.reported.rxPackets;
    entry.traffic.rxBytes += traffic.rxBytes - conn.reported.rxBytes;
    conn.reported = { ...traffic };
  }

  stop(): void {
    this.stopped = true;
    this.pacer.stop();
  }

  // --- internals ---

  private onEstablished(shard: number, msg: Extract<ShardToMain, { type: 'established' }>): void {
    const { connId, linkId, dialed, peerDns, peerMeshDnsPort, cipher } = msg;
    const conn = this.connections.get(connId);
    const entry = this.byId[linkId];
    if (!conn || !entry) {
      this.shards.send(shard, { type: 'close', connId, reason: 'link no longer served' });
      return;
    }
    const badHello = msg.badHelloExtensions?.join('; ');
    if (badHello !== undefined && badHello !== entry.loggedBadHello) {
      this.log.warn('peer hello: malformed extensions ignored', { link: entry.link.name, connId, problems: badHello });
    }
    entry.loggedBadHello = badHello;
    conn.linkId = linkId;
    this.endPending(conn);
    this.handshakeEnded(conn);
    if (entry.dialing === connId) entry.dialing = undefined;
    const decision = chooseTunnel(entry.active, { connId, dialed }, this.options.localClusterAddress, entry.link.clusterAddress);
    if (entry.active && decision.keep === connId && this.refuseContender(entry, entry.active, conn)) return;
    for (const loser of decision.close) {
      const lost = this.connections.get(loser);
      if (lost) this.shards.send(lost.shard, { type: 'close', connId: loser, reason: 'another connection of a simultaneous dial carries the link' });
    }
    if (decision.keep === connId) {
      entry.active = conn;
      this.shards.send(shard, { type: 'activate', connId });
      this.datapath.setLinkShard(linkId, shard);
      this.pacer.cancel(linkId);
      this.log.info('tunnel up', { link: entry.link.name, connId, shard, direction: dialed ? 'dialed' : 'accepted', cipher });
      // A peer that comes back announcing another cluster DNS is reported even while Up.
      const dnsChanged = peerDns?.dnsIp !== entry.peerDns?.dnsIp || peerDns?.domain !== entry.peerDns?.domain || peerMeshDnsPort !== entry.peerMeshDnsPort;
      entry.peerDns = peerDns;
      entry.peerMeshDnsPort = peerMeshDnsPort;
      this.report(entry, 'Up', upMessage(entry), dnsChanged);
    }
  }

  /**
   * The contention rule: a healthy tunnel (a keepalive round trip within the staleness
   * bound) is replaced by a newcomer of the same identity at most once per hold-off period
   * (the backoff ceiling). Otherwise a process holding a stolen certificate of the peer,
   * reconnecting in a loop, makes the link flap. Returns true when the newcomer is refused.
   */
  private refuseContender(entry: LinkEntry, active: ConnectionRecord, newcomer: ConnectionRecord): boolean {
    // Our own dial reaches the endpoint the link names; only accepted newcomers can be impostors.
    if (newcomer.dialed) return false;
    const now = this.clock.now();
    const healthy = active.healthyAt !== undefined && now - active.healthyAt <= this.options.staleAfterMs;
    if (!healthy) return false;
    const holdOffMs = this.holdOffMs();
    if (now - entry.lastReplacedHealthyAt < holdOffMs) {
      entry.contention.refused++;
      newcomer.refusedForContention = true;
      this.shards.send(newcomer.shard, { type: 'close', connId: newcomer.connId, reason: `link ${entry.link.name} has a healthy tunnel that was already replaced in the last ${holdOffMs} ms` });
      if (entry.unloggedRefusals++ === 0) {
        this.log.warn('link contention: refusing a new connection of the peer while its healthy tunnel stays', { link: entry.link.name, connId: newcomer.connId, holdOffMs });
      }
      return true;
    }
    entry.contention.replaced++;
    entry.lastReplacedHealthyAt = now;
    this.log.warn('link contention: a new connection of the peer replaces its healthy tunnel', {
      link: entry.link.name, replaced: active.connId, by: newcomer.connId, refusedSinceLast: entry.unloggedRefusals,
    });
    entry.unloggedRefusals = 0;
    return false;
  }

  private holdOffMs(): number {
    return this.options.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs;
  }

  private onClosed(connId: number, reason: string, handshakeFailure: boolean): void {
    const conn = this.connections.get(connId);
    if (!conn) return;
    this.connections.delete(connId);
    this.endPending(conn);
    this.shards.release(conn.shard);
    this.handshakeEnded(conn);
    if (handshakeFailure) this.handshakeFailures++;
    const entry = conn.linkId !== null ? this.byId[conn.linkId] : this.dialingEntry(connId);
    if (!entry) {
      // Either an accepted connection refused before it named a link (wrong CA, unknown
      // CN, ...) or a connection of a link that was removed meanwhile.
      if (conn.linkId === null) this.log.warn('peer connection refused', { connId, reason });
      return;
    }
    if (entry.dialing === connId) entry.dialing = undefined;
    if (entry.active?.connId === connId) {
      entry.active = undefined;
      this.datapath.setLinkShard(entry.linkId, -1);
      if (this.stopped) return;
      if (entry.dialing !== undefined) {
        // Typically the peer closing its side of a simultaneous dial: our own dial is about
        // to replace the connection, so this is not an outage worth a Down.
        this.log.info('tunnel closed while another connection is being set up', { link: entry.link.name, connId, reason });
        return;
      }
      entry.reconnects++;
      this.log.warn('tunnel down', { link: entry.link.name, connId, reason });
    } else if (!conn.refusedForContention) {
      this.log.info('connection closed', { link: entry.link.name, connId, reason });
    }
    if (!this.stopped && !entry.active && entry.dialing === undefined) {
      this.report(entry, handshakeFailure ? 'Error' : 'Down', reason);
      this.scheduleDial(entry, entry.backoff.next());
    }
  }

  private dialingEntry(connId: number): LinkEntry | undefined {
    for (const entry of this.links.values()) if (entry.dialing === connId) return entry;
    return undefined;
  }

  /** Queues a dial of `entry` in the pacer, `delayMs` from now (jittered when fresh). */
  private scheduleDial(entry: LinkEntry, delayMs: number, fresh = false): void {
    if (this.stopped || entry.active || entry.dialing !== undefined) return;
    this.pacer.schedule(entry.linkId, delayMs, fresh);
  }

  /** The pacer has room for `linkId`'s dial; a link that no longer needs one gives it back. */
  private startPacedDial(linkId: number): void {
    const entry = this.byId[linkId];
    if (!entry || this.stopped || entry.active || entry.dialing !== undefined) {
      this.pacer.finished(linkId);
      return;
    }
    this.dial(entry);
  }

  /** A dial of ours left its handshake (established or closed): its pacer place is free. */
  private handshakeEnded(conn: ConnectionRecord): void {
    if (!conn.pacing) return;
    conn.pacing = false;
    if (conn.linkId !== null) this.pacer.finished(conn.linkId);
  }

  private dial(entry: LinkEntry): void {
    const connId = this.nextConnId++;
    const shard = this.shards.assign();
    entry.dialing = connId;
    entry.lastDialAt = this.clock.now();
    // The link id is known for a dial from the start: it keeps the id reserved until this
    // connection is gone (see freeLinkId).
    this.connections.set(connId, { connId, shard, dialed: true, linkId: entry.linkId, pacing: true, reported: NO_TRAFFIC });
    this.log.debug('dialing', { link: entry.link.name, connId, shard, host: entry.link.endpointHost, port: entry.link.endpointPort });
    this.shards.send(shard, { type: 'dial', connId, linkId: entry.linkId, host: entry.link.endpointHost, port: entry.link.endpointPort });
  }

  private removeLink(entry: LinkEntry, reason: string): void {
    this.pacer.cancel(entry.linkId);
    this.closeConnectionsOf(entry, reason);
    this.datapath.setLinkShard(entry.linkId, -1);
    this.links.delete(entry.link.name);
    this.byId[entry.linkId] = undefined;
    this.log.info('link removed', { link: entry.link.name });
  }

  private closeConnectionsOf(entry: LinkEntry, reason: string): void {
    for (const conn of this.connections.values()) {
      if (conn.linkId === entry.linkId || entry.dialing === conn.connId) this.shards.send(conn.shard, { type: 'close', connId: conn.connId, reason });
    }
  }

  /**
   * The lowest id no link has and no connection still carries: late messages of a removed
   * link's connections must never be taken for a new link that got its id.
   */
  private freeLinkId(): number {
    const held = new Set<number>();
    for (const conn of this.connections.values()) if (conn.linkId !== null) held.add(conn.linkId);
    for (let id = 0; id < this.options.maxLinks; id++) if (this.byId[id] === undefined && !held.has(id)) return id;
    throw new Error(`more than ${this.options.maxLinks} links`);
  }

  /**
   * Which links have their routes into the TUN (the outcome of the latest route
   * reconcile). A link is reported Up only when its tunnel is Up and it is routed:
   * Up means traffic can flow (docs/architecture.md, "Up means traffic flows").
   */
  setRouted(names: ReadonlySet<string>): void {
    for (const entry of this.links.values()) {
      const routed = names.has(entry.link.name);
      if (routed === entry.routed) continue;
      entry.routed = routed;
      this.publish(entry, false);
    }
  }

  /** Records what the tunnel says and reports the link's state derived from it. */
  private report(entry: LinkEntry, state: LinkState, message: string, force = false): void {
    entry.tunnelState = state;
    entry.tunnelMessage = message;
    this.publish(entry, force);
  }

  private publish(entry: LinkEntry, force: boolean): void {
    const waiting = entry.tunnelState === 'Up' && !entry.routed;
    const state: LinkState = waiting ? 'Down' : entry.tunnelState;
    const message = waiting ? `${entry.tunnelMessage}; waiting for its route into the TUN` : entry.tunnelMessage;
    if (!force && entry.state === state && (state === 'Up' || entry.message === message)) return;
    entry.state = state;
    entry.message = message;
    this.onStatus({
      name: entry.link.name, state, message,
      ...(entry.peerDns ? { peerDns: entry.peerDns } : {}),
      ...(entry.peerMeshDnsPort !== undefined ? { peerMeshDnsPort: entry.peerMeshDnsPort } : {}),
    });
  }
}

function upMessage(entry: LinkEntry): string {
  return `tunnel to ${entry.link.endpointHost}:${entry.link.endpointPort} up`;
}
