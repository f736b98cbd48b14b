// One TLS tunnel to a peer broker, owned by one shard's event loop.
//
// Life: TLS handshake (mutual, ALPN kubelink/1) -> the peer certificate names exactly one
// link -> HELLO both ways (version, cluster address) -> 'established' reported to the main
// thread -> 'activate' from the main thread (or 'close' if the other connection of a
// simultaneous dial won) -> forwarding until closed. Keepalives measure round-trip time
// and detect a dead peer.
import type tls from 'node:tls';
import { FrameBatcher, FrameDecoder, type FrameSink, type FrameMalformedReason } from '../shared/frame-codec.js';
import { ALPN_PROTOCOL, NO_CAPABILITIES, PROTOCOL_VERSION, decodeControl, encodeHello, encodeKeepalive, encodeKeepaliveAck } from '../shared/wire.js';
import { Counter, FrameMalformedCounter, inboundDropCounter } from '../shared/counters.js';
import type { ShardLink, ShardTunables } from '../shared/shard-protocol.js';
import { INBOUND_PASS, checkInbound, type InboundEndpoint } from '../shared/inbound-filter.js';
import { formatIpv4 } from '../shared/cidr.js';
import { certificateIdentities } from '../main/cert-identity.js';
import type { SpscRing } from '../shared/spsc-ring.js';

export type ConnectionState = 'handshake' | 'established' | 'active' | 'closed';

/** This broker's side of the inbound checks. */
export type LocalIdentity = InboundEndpoint;

/** What a connection reports back to its shard. */
export interface ConnectionOwner {
  established(conn: TunnelConnection): void;
  closed(conn: TunnelConnection, reason: string, handshakeFailure: boolean): void;
  /** The link this connection must carry, from the peer certificate names; a string is a refusal reason. */
  identifyPeer(names: string[]): ShardLink | string;
}

export class TunnelConnection implements FrameSink {
  state: ConnectionState = 'handshake';
  link: ShardLink | null = null;
  peerVersion = 0;
  rttMs: number | null = null;
  lastReceiveAt: number;
  private keepaliveSeq = 0;
  private readonly batcher: FrameBatcher;
  private readonly decoder: FrameDecoder;
  private readonly handshakeTimer: NodeJS.Timeout;
  /** Reused for control frames so sending a keepalive allocates nothing but the write. */
  private readonly controlScratch = Buffer.alloc(64);

  constructor(
    readonly connId: number,
    readonly dialed: boolean,
    readonly socket: tls.TLSSocket,
    private readonly owner: ConnectionOwner,
    private readonly local: LocalIdentity,
    private readonly toTun: SpscRing,
    /** This shard's counter block (single writer: this thread). */
    private readonly counters: Float64Array,
    private readonly tunables: ShardTunables,
    private readonly now: () => number,
  ) {
    this.lastReceiveAt = now();
    this.batcher = new FrameBatcher({ batchBytes: tunables.writeBatchBytes });
    this.decoder = new FrameDecoder({ maxFramePayload: tunables.maxFramePayload }, this);
    this.handshakeTimer = setTimeout(
      () => this.close(`handshake not finished within ${tunables.handshakeTimeoutMs} ms`, true),
      tunables.handshakeTimeoutMs,
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: Error) => this.close(err.message, this.state === 'handshake'));
    socket.on('close', () => this.close('connection closed by peer', this.state === 'handshake'));
  }

  /** Called once TLS is up (secureConnect for a dialed one, secureConnection for an accepted one). */
  onSecure(): void {
    if (this.state !== 'handshake') return;
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
      capabilities: NO_CAPABILITIES,
      clusterAddress: this.local.clusterAddress,
      maxFramePayload: this.tunables.maxFramePayload,
    });
    this.writeFramed(this.controlScratch, 0, len);
  }

  /** The main thread picked this connection for its link. */
  activate(): void {
    if (this.state === 'established') this.state = 'active';
  }

  /**
   * Queues one packet from the TUN for this tunnel. Returns false when the socket is so far
   * behind that the packet is dropped (the inner TCP backs off, as on a full NIC queue).
   */
  enqueue(data: Uint8Array, offset: number, length: number): boolean {
    if (this.socket.writableLength > this.tunables.maxQueuedBytes) return false;
    if (!this.batcher.append(data, offset, length)) {
      this.flush();
      this.batcher.append(data, offset, length);
    }
    return true;
  }

  /** Writes what enqueue() gathered: one socket write per batch, not per packet. */
  flush(): void {
    const batch = this.batcher.take();
    if (batch) this.socket.write(batch);
  }

  /** Keepalive tick: send a probe, and close when the peer has been silent too long. */
  tick(): void {
    if (this.state === 'closed' || this.state === 'handshake') return;
    if (this.now() - this.lastReceiveAt > this.tunables.deadAfterMs) {
      this.close(`no frame from peer for ${this.tunables.deadAfterMs} ms`, false);
      return;
    }
    this.keepaliveSeq = (this.keepaliveSeq + 1) >>> 0;
    const len = encodeKeepalive(this.controlScratch, 0, { seq: this.keepaliveSeq, sentTimeMs: this.now() });
    this.writeFramed(this.controlScratch, 0, len);
  }

  close(reason: string, handshakeFailure: boolean): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.owner.closed(this, reason, handshakeFailure);
  }

  // --- FrameSink: called by the decoder for each frame of a received chunk ---

  onIpPacket(buf: Uint8Array, offset: number, length: number): void {
    // Packets are accepted on an established connection even before it is activated: in a
    // simultaneous dial the peer may already send on the one both sides will keep. The
    // checks, not the connection's state, decide what reaches the TUN.
    if (this.link === null || this.state === 'handshake' || this.state === 'closed') {
      this.counters[Counter.noTunnelDrops]++;
      return;
    }
    const verdict = checkInbound(buf, offset, length, this.link, this.local);
    if (verdict !== INBOUND_PASS) {
      this.counters[inboundDropCounter(verdict)]++;
      return;
    }
    // A full ring counts the drop itself.
    if (this.toTun.write(buf, offset, length, this.link.linkId)) {
      this.counters[Counter.tunnelRxPackets]++;
      this.counters[Counter.tunnelRxBytes] += length;
    }
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
        this.onHello(frame.version, frame.clusterAddress);
        break;
      case 'keepalive': {
        const len = encodeKeepaliveAck(this.controlScratch, 0, frame);
        this.writeFramed(this.controlScratch, 0, len);
        break;
      }
      case 'keepaliveAck':
        this.rttMs = Math.max(0, this.now() - frame.sentTimeMs);
        break;
    }
  }

  onMalformed(reason: FrameMalformedReason): void {
    this.counters[FrameMalformedCounter[reason]]++;
  }

  private onHello(version: number, clusterAddress: number): void {
    if (this.state !== 'handshake' || this.link === null) return;
    if (clusterAddress !== this.link.clusterAddress) {
      this.close(`peer says its cluster address is ${formatIpv4(clusterAddress)}, link ${this.link.name} expects ${formatIpv4(this.link.clusterAddress)}`, true);
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.peerVersion = version;
    this.state = 'established';
    this.owner.established(this);
  }

  private onData(chunk: Buffer): void {
    this.lastReceiveAt = this.now();
    const inSync = this.decoder.push(chunk);
    this.toTun.publish();
    if (!inSync) this.close('frame stream cannot be resynchronised (oversize frame)', false);
  }

  private writeFramed(payload: Buffer, offset: number, length: number): void {
    // Control frames go through the batcher too so they stay in order with data frames.
    this.enqueueControl(payload, offset, length);
    this.flush();
  }

  private enqueueControl(payload: Uint8Array, offset: number, length: number): void {
    if (!this.batcher.append(payload, offset, length)) {
      this.flush();
      this.batcher.append(payload, offset, length);
    }
  }
}
