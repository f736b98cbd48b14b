// One TLS tunnel to a peer broker, owned by one shard's event loop.
//
// Life: TLS handshake (mutual, ALPN kubelink/1) -> the peer certificate names exactly one
// link -> HELLO both ways (version, cluster address) -> 'established' reported to the main
// thread -> 'activate' from the main thread (or 'close' if the other connection of a
// simultaneous dial won) -> forwarding until closed. Keepalives measure round-trip time
// and detect a dead peer.
//
// Offloads: when the local TUN has them (vnetHdr), ring records carry a virtio_net_hdr in
// front of each packet and the hello announces gso. Outbound, a record with a trivial
// header goes out as a plain IP frame; a super-packet or partial checksum goes out as an
// offload frame to a peer that announced gso too, and is finished in software (segmented,
// checksummed) for one that did not. Inbound, plain frames get a zero header on the ring.
import type tls from 'node:tls';
import { FrameBatcher, FrameDecoder, type FrameSink, type FrameMalformedReason } from '../shared/frame-codec.js';
import {
  ALPN_PROTOCOL, CAPABILITY_GSO, MAX_HELLO_BYTES, MAX_OFFLOAD_FRAME_PAYLOAD, NO_CAPABILITIES, PROTOCOL_VERSION,
  type Hello, type HelloDns, decodeControl, encodeHello, encodeKeepalive, encodeKeepaliveAck,
} from '../shared/wire.js';
import { VNET_HDR_BYTES, VnetFlag, isTcpv4Gso, isTrivialVnetHeader, offloadRecordProblem } from '../shared/gso-header.js';
import { Tcpv4Segmenter, completeRecordChecksum, type SegmentSink } from '../shared/gso-segment.js';
import { Counter, FrameMalformedCounter, inboundDropCounter } from '../shared/counters.js';
import type { ConnectionTraffic, ShardLink, ShardLocal, ShardTunables } from '../shared/shard-protocol.js';
import { INBOUND_PASS, checkInbound, type InboundLocal } from '../shared/inbound-filter.js';
import { formatIpv4 } from '../shared/cidr.js';
import { certificateIdentities } from '../shared/cert-identity.js';
import type { TunSink } from './tun-output.js';
import type { Clock, TimerHandle } from '../shared/clock.js';
import { boundUnsentBytes } from './tcp-unsent-bound.js';
import type { BufferPool } from '../shared/buffer-pool.js';
import { readIntoBuffer } from './tls-read-buffer.js';
import { CoDel } from '../shared/codel.js';
import { QueueDelayProbe } from '../shared/queue-delay-probe.js';

/** Ring records up to this size (virtio-net header included) may pass a full queue: see enqueue. */
export const SMALL_PACKET_BYTES = 256;
/** With CoDel, a keepalive probe of the path's queueing delay rides on a write at most this often. */
const QUEUE_PROBE_INTERVAL_MS = 10;
/** Socket writes whose start time is kept for the queue delay; more in flight are not timed. */
const MAX_TIMED_WRITES = 1024;

export type ConnectionState = 'handshake' | 'established' | 'active' | 'closed';

/** This broker's side of the inbound checks and its identity in the hello (ShardLocal). */
export type LocalIdentity = InboundLocal & ShardLocal;

/** What a connection reports back to its shard. */
export interface ConnectionOwner {
  established(conn: TunnelConnection): void;
  closed(conn: TunnelConnection, reason: string, handshakeFailure: boolean): void;
  /** The link this connection must carry, from the peer certificate names; a string is a refusal reason. */
  identifyPeer(names: string[]): ShardLink | string;
}

export class TunnelConnection implements FrameSink, SegmentSink {
  state: ConnectionState = 'handshake';
  link: ShardLink | null = null;
  peerVersion = 0;
  /** The peer's cluster DNS from its hello; undefined from brokers without the extension. */
  peerDns: HelloDns | undefined;
  /** The peer's mesh DNS port from its hello (0: none); undefined from brokers without the extension. */
  peerMeshDnsPort: number | undefined;
  /** Known hello extensions the peer sent malformed (ignored, counted; the main thread logs them). */
  badHelloExtensions: string[] | undefined;
  /** Both sides announced gso: offload frames and large frames flow both ways. */
  gso = false;
  /** Received chunks come through the shard's read buffer (tls-read-buffer.ts). */
  readonly readsIntoBuffer: boolean = false;
  rttMs: number | null = null;
  lastReceiveAt: number;
  /** What this connection carried; reported to the main thread with each health message. */
  readonly traffic: ConnectionTraffic = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0 };
  private keepaliveSeq = 0;
  private readonly batcher: FrameBatcher;
  private readonly decoder: FrameDecoder;
  private handshakeTimer: TimerHandle;
  /** Reused for control frames so sending a keepalive allocates nothing but the write. */
  private readonly controlScratch = Buffer.alloc(MAX_HELLO_BYTES);
  /** Cuts super-packets for a peer without gso; made on first use. */
  private segmenter: Tcpv4Segmenter | undefined;
  /** Drops bulk packets when the queueing delay stands above target (undefined: off). */
  private readonly codel: CoDel | undefined;
  /** The forward path's queueing delay from keepalive round trips (only with codel). */
  private readonly probe: QueueDelayProbe | undefined;
  /** Start times of the socket writes in flight, oldest first (only with codel). */
  private readonly writeTimes = new Float64Array(MAX_TIMED_WRITES);
  private writeTimesFirst = 0;
  private writeTimesCount = 0;

  constructor(
    readonly connId: number,
    readonly dialed: boolean,
    readonly socket: tls.TLSSocket,
    private readonly owner: ConnectionOwner,
    private readonly local: LocalIdentity,
    /** Where received packets go: the TUN device (TunWriter). */
    private readonly tun: TunSink,
    /** This shard's counter block (single writer: this thread). */
    private readonly counters: Float64Array,
    private readonly tunables: ShardTunables,
    private readonly clock: Clock,
    /** Ring records in both directions are [virtio_net_hdr][IP packet]. */
    private readonly vnetHdr = false,
    /** The shard's batch buffers, reused once a write completed (undefined: the batcher's own). */
    batchPool?: BufferPool,
    /** The shard's read buffer: decrypted records land there, not in a Buffer each (tls-read-buffer.ts). */
    readBuffer?: Buffer,
  ) {
    this.lastReceiveAt = clock.now();
    this.batcher = new FrameBatcher({ batchBytes: tunables.writeBatchBytes, pool: batchPool });
    this.decoder = new FrameDecoder({ maxFramePayload: tunables.maxFramePayload }, this);
    if (tunables.queueDelayTargetMs > 0) {
      this.codel = new CoDel({ targetMs: tunables.queueDelayTargetMs, intervalMs: tunables.queueDelayIntervalMs });
      this.probe = new QueueDelayProbe(QUEUE_PROBE_INTERVAL_MS);
    }
    // The deadline counts from when the handshake starts: for a dial, when TCP connects
    // (the connect itself has a deadline of the same length). An accepted connection
    // arrives here connected.
    const limit = tunables.handshakeTimeoutMs;
    if (dialed) {
      this.handshakeTimer = clock.setTimeout(() => this.close(`TCP connect not finished within ${limit} ms`, true), limit);
      socket.once('connect', () => {
        if (this.state !== 'handshake') return;
        clock.clearTimeout(this.handshakeTimer);
        this.handshakeTimer = clock.setTimeout(() => this.close(`handshake not finished within ${limit} ms of connecting`, true), limit);
      });
    } else {
      this.handshakeTimer = clock.setTimeout(() => this.close(`handshake not finished within ${limit} ms`, true), limit);
    }
    socket.setNoDelay(true);
    if (readBuffer) this.readsIntoBuffer = readIntoBuffer(socket, readBuffer, (chunk) => this.onData(chunk));
    // Also with the read buffer: chunks read before the switch arrive as 'data' events.
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => this.close(err.message, this.state === 'handshake'));
    socket.on('close', () => this.close('connection closed by peer', this.state === 'handshake'));
  }

  /** Called once TLS is up (secureConnect for a dialed one, secureConnection for an accepted one). */
  onSecure(): void {
    if (this.state !== 'handshake') return;
    try {
      boundUnsentBytes(this.socket, this.tunables.maxQueuedBytes);
    } catch {
      // The socket is already gone (EBADF): its 'close' ends this connection.
    }
    if (this.socket.alpnProtocol !== ALPN_PROTOCOL) {
      this.close(`peer did not negotiate ALPN kubelink/1 (got ${String(this.socket.alpnProtocol)})`, true);
      return;
    }
    const identified = this.owner.identifyPeer(certificateIdentities(this.socket.getPeerCertificate()));
    if (typeof identified === 'string') {
      this.close(identified, true);
      return;
    }
    this.link = identified;
    const len = encodeHello(this.controlScratch, 0, {
      version: PROTOCOL_VERSION,
      capabilities: this.vnetHdr ? CAPABILITY_GSO : NO_CAPABILITIES,
      clusterAddress: this.local.clusterAddress,
      maxFramePayload: this.vnetHdr ? MAX_OFFLOAD_FRAME_PAYLOAD : this.tunables.maxFramePayload,
      dns: this.local.dns,
      meshDnsPort: this.local.meshDnsPort,
    });
    this.writeFramed(this.controlScratch, 0, len);
  }

  /** The main thread picked this connection for its link. */
  activate(): void {
    if (this.state === 'established') this.state = 'active';
  }

  /**
   * Queues one ring record from the TUN for this tunnel. Returns false when the socket is
   * so far behind that the packet is dropped (the inner TCP backs off, as on a full NIC
   * queue). With vnetHdr the record may be changed in place (checksum completed, receive
   * flags cleared): the caller holds it until the ring is released.
   * Above the bound only small packets (pings, pure ACKs, DNS) still get in, up to twice
   * the bound: the bulk flows that fill the queue lose packets and back off, the
   * interactive ones keep flowing (a crude stand-in for per-flow queueing).
   * With CoDel (queueDelayTargetMs), a bulk packet may also be dropped because the data
   * leaving now waits too long: `ringDelayMs` in the shard's ring (the caller measures
   * it) plus the longer of the oldest socket write in flight and the forward path's
   * queueing delay from the latest probe; such a drop is counted as queue-delay and
   * returns true. Small packets are never dropped for delay. `nowMs`: the caller's time
   * of the pass (read once per pass, not per packet); -1 reads the clock.
   */
  enqueue(data: Uint8Array, offset: number, length: number, ringDelayMs = 0, nowMs = -1): boolean {
    const queued = this.socket.writableLength;
    const bound = this.tunables.maxQueuedBytes;
    if (queued > bound && (length > SMALL_PACKET_BYTES || queued > 2 * bound)) return false;
    if (this.codel !== undefined && length > SMALL_PACKET_BYTES) {
      const now = nowMs >= 0 ? nowMs : this.clock.now();
      const pathDelayMs = Math.max(this.socketDelayMs(now), this.probe!.excessMs);
      if (this.codel.shouldDrop(ringDelayMs + pathDelayMs, now)) {
        this.counters[Counter.queueDelayDrops]++;
        return true;
      }
    }
    if (!this.vnetHdr || isTrivialVnetHeader(data, offset)) {
      const headerBytes = this.vnetHdr ? VNET_HDR_BYTES : 0;
      this.enqueuePacket(data, offset + headerBytes, length - headerBytes);
    } else {
      this.enqueueOffloaded(data, offset, length);
    }
    return true;
  }

  private enqueueOffloaded(data: Uint8Array, offset: number, length: number): void {
    data[offset] = data[offset]! & VnetFlag.needsCsum; // DATA_VALID is for this host only
    if (offloadRecordProblem(data, offset, length) !== undefined) {
      this.counters[Counter.badOffloadDrops]++;
      return;
    }
    this.countTx(length - VNET_HDR_BYTES);
    if (this.gso) {
      if (!this.batcher.appendOffload(data, offset, length)) {
        this.flush();
        this.batcher.appendOffload(data, offset, length);
      }
    } else if (isTcpv4Gso(data, offset)) {
      this.segmenter ??= new Tcpv4Segmenter();
      this.counters[Counter.tunnelTxSoftwareSegments] += this.segmenter.segment(data, offset, length, this);
    } else {
      completeRecordChecksum(data, offset, length);
      this.enqueueFrame(data, offset + VNET_HDR_BYTES, length - VNET_HDR_BYTES);
    }
  }

  /** SegmentSink: one software segment of a super-packet for a peer without gso. */
  onSegment(buf: Uint8Array, offset: number, length: number): void {
    this.enqueueFrame(buf, offset, length);
  }

  /** Counts a packet sent to the peer: in the shard's block (metrics) and per connection (per-link metrics). */
  private countTx(bytes: number): void {
    this.counters[Counter.tunnelTxPackets]++;
    this.counters[Counter.tunnelTxBytes] += bytes;
    this.traffic.txPackets++;
    this.traffic.txBytes += bytes;
  }

  private countRx(bytes: number): void {
    this.counters[Counter.tunnelRxPackets]++;
    this.counters[Counter.tunnelRxBytes] += bytes;
    this.traffic.rxPackets++;
    this.traffic.rxBytes += bytes;
  }

  /** One IP packet as a plain frame, counted as sent. */
  private enqueuePacket(data: Uint8Array, offset: number, length: number): void {
    this.countTx(length);
    this.enqueueFrame(data, offset, length);
  }

  /** Any frame payload (packet, segment, control), in order with everything else. */
  private enqueueFrame(data: Uint8Array, offset: number, length: number): void {
    if (!this.batcher.append(data, offset, length)) {
      this.flush();
      this.batcher.append(data, offset, length);
    }
  }

  /**
   * Writes what enqueue() gathered: one socket write per batch, not per packet. The batch's
   * buffer goes back to the pool when the write completed (TLS has encrypted it and the
   * ciphertext went to the kernel); a write that fails never calls back and its buffer is
   * simply collected.
   */
  flush(): void {
    if (this.batcher.pendingFrames === 0) return;
    let timed = false;
    if (this.codel !== undefined) {
      const now = this.clock.now();
      // The probe goes last, behind the data of this write, on an active tunnel only.
      if (this.state === 'active' && this.probe!.probeDue(now)) this.appendKeepalive(now);
      timed = this.timeWrite(now);
    }
    const batch = this.batcher.take()!;
    this.socket.write(batch, (err) => {
      if (timed) this.writeDone();
      if (!err) this.batcher.release(batch);
    });
  }

  /** Notes a write's start; false when too many are in flight to note one more. */
  private timeWrite(nowMs: number): boolean {
    if (this.writeTimesCount === MAX_TIMED_WRITES) return false;
    this.writeTimes[(this.writeTimesFirst + this.writeTimesCount) % MAX_TIMED_WRITES] = nowMs;
    this.writeTimesCount++;
    return true;
  }

  /** The oldest timed write completed (write callbacks come in write order). */
  private writeDone(): void {
    this.writeTimesFirst = (this.writeTimesFirst + 1) % MAX_TIMED_WRITES;
    this.writeTimesCount--;
  }

  /**
   * How long the oldest write still in flight has waited: Node's queue and the kernel's
   * unsent bytes up to TCP_NOTSENT_LOWAT (a write completes once the kernel took it all).
   */
  private socketDelayMs(nowMs: number): number {
    return this.writeTimesCount === 0 ? 0 : nowMs - this.writeTimes[this.writeTimesFirst]!;
  }

  /** Keepalive tick: send a probe, and close when the peer has been silent too long. */
  tick(): void {
    if (this.state === 'closed' || this.state === 'handshake') return;
    if (this.clock.now() - this.lastReceiveAt > this.tunables.deadAfterMs) {
      this.close(`no frame from peer for ${this.tunables.deadAfterMs} ms`, false);
      return;
    }
    this.appendKeepalive(this.clock.now());
    this.flush();
  }

  /** Appends a keepalive (its ack gives rttMs and, with codel, the queue delay probe). */
  private appendKeepalive(nowMs: number): void {
    this.keepaliveSeq = (this.keepaliveSeq + 1) >>> 0;
    const len = encodeKeepalive(this.controlScratch, 0, { seq: this.keepaliveSeq, sentTimeMs: nowMs });
    this.enqueueFrame(this.controlScratch, 0, len);
  }

  close(reason: string, handshakeFailure: boolean): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clock.clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.owner.closed(this, reason, handshakeFailure);
  }

  // --- FrameSink: called by the decoder for each frame of a received chunk ---

  onIpPacket(buf: Uint8Array, offset: number, length: number): void {
    if (this.admit(buf, offset, length) === null) return;
    this.tun.packet(buf, offset, length);
    this.countRx(length);
  }

  /** An offload frame's record [virtio_net_hdr][IPv4 packet], checked by the decoder. */
  onOffloadPacket(buf: Uint8Array, offset: number, length: number): void {
    if (this.admit(buf, offset + VNET_HDR_BYTES, length - VNET_HDR_BYTES) === null) return;
    this.tun.record(buf, offset, length);
    this.countRx(length - VNET_HDR_BYTES);
  }

  /** The link whose checks the IP packet passed (and may reach the TUN), else null (counted). */
  private admit(buf: Uint8Array, offset: number, length: number): ShardLink | null {
    // Packets are accepted on an established connection even before it is activated: in a
    // simultaneous dial the peer may already send on the one both sides will keep. The
    // checks, not the connection's state, decide what reaches the TUN.
    const link = this.link;
    if (link === null || this.state === 'handshake' || this.state === 'closed') {
      this.counters[Counter.noTunnelDrops]++;
      return null;
    }
    const verdict = checkInbound(buf, offset, length, link.inbound, this.local);
    if (verdict !== INBOUND_PASS) {
      this.counters[inboundDropCounter(verdict)]++;
      return null;
    }
    return link;
  }

  onControl(buf: Uint8Array, offset: number, length: number): void {
    const decoded = decodeControl(buf, offset, length);
    if (!decoded.ok) {
      this.counters[FrameMalformedCounter['unknown-type']]++;
      return;
    }
    const frame = decoded.value;
    switch (frame.type) {
      case 'hello':
        this.onHello(frame);
        break;
      case 'keepalive': {
        // Gathered and written once per received chunk (onData), and not at all while the
        // socket is backed up: a peer sending keepalives without reading the acks must not
        // get one write each, nor grow our queue without bound.
        if (this.socket.writableLength > this.tunables.maxQueuedBytes) break;
        const len = encodeKeepaliveAck(this.controlScratch, 0, frame);
        this.enqueueFrame(this.controlScratch, 0, len);
        break;
      }
      case 'keepaliveAck': {
        const now = this.clock.now();
        this.rttMs = Math.max(0, now - frame.sentTimeMs);
        this.probe?.onRoundTrip(this.rttMs, now);
        break;
      }
    }
  }

  onMalformed(reason: FrameMalformedReason): void {
    this.counters[FrameMalformedCounter[reason]]++;
  }

  private onHello({ version, clusterAddress, capabilities, dns, meshDnsPort, badExtensions }: Hello): void {
    if (this.state !== 'handshake' || this.link === null) return;
    if (clusterAddress !== this.link.clusterAddress) {
      this.close(`peer says its cluster address is ${formatIpv4(clusterAddress)}, link ${this.link.name} expects ${formatIpv4(this.link.clusterAddress)}`, true);
      return;
    }
    this.clock.clearTimeout(this.handshakeTimer);
    this.peerVersion = version;
    this.peerDns = dns;
    this.peerMeshDnsPort = meshDnsPort;
    if (badExtensions !== undefined) {
      // Once per hello, i.e. per connection: the hello stands without them.
      this.counters[FrameMalformedCounter['bad-hello-extension']]++;
      this.badHelloExtensions = badExtensions;
    }
    if (this.vnetHdr && (capabilities & CAPABILITY_GSO) !== 0) {
      // The peer sends offload frames only after our hello, which preceded everything
      // we send; from the next frame of this very chunk on, the decoder takes them.
      this.gso = true;
      this.decoder.enableGso();
      this.batcher.enableGso();
    }
    this.state = 'established';
    this.owner.established(this);
  }

  private onData(chunk: Buffer): void {
    this.lastReceiveAt = this.clock.now();
    this.tun.begin(chunk);
    const inSync = this.decoder.push(chunk);
    this.tun.end();
    if (this.state !== 'closed') this.flush(); // keepalive acks of this chunk
    if (!inSync) this.close('frame stream cannot be resynchronised (oversize frame)', false);
  }

  private writeFramed(payload: Buffer, offset: number, length: number): void {
    // Control frames go through the batcher too so they stay in order with data frames.
    this.enqueueFrame(payload, offset, length);
    this.flush();
  }
}
