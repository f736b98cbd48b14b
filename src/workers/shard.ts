// A shard: one long-lived piscina task per worker thread that owns a set of TLS tunnels.
//
// Pipeline, outbound: toTunnel ring (filled by the TUN reader) -> link id -> the link's
// active connection -> frame batch -> one TLS write per batch.
// Pipeline, inbound: TLS data -> deframe -> checks -> written to the TUN by this thread,
// one batch per decrypted chunk, straight from the chunk (tun-output.ts).
//
// The task only resolves when the main thread says 'stop'; while it runs, the worker's
// event loop serves the sockets (piscina with atomics 'disabled'; docs/architecture.md,
// "Data path: threads and copies").
import net from 'node:net';
import { closeSync } from 'node:fs';
import tls from 'node:tls';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { SpscRing, type RecordHandler } from '../shared/spsc-ring.js';
import { ALPN_PROTOCOL } from '../shared/wire.js';
import { tunnelPeerChanged } from '../shared/tunnel-peer.js';
import type { MainToShard, ShardInit, ShardLink, ShardToMain, TlsMaterial } from '../shared/shard-protocol.js';
import { createLogger, isLogLevel, type Logger } from '../shared/log.js';
import { TunnelConnection, type ConnectionOwner, type LocalIdentity } from './tunnel-connection.js';
import { TunWriter } from './tun-output.js';
import { findLinkForPeer } from '../shared/cert-identity.js';
import { NO_REVOCATIONS, parseRevocations, revokedInChain, type PeerCertificateChain, type Revocations } from '../shared/crl.js';
import { CounterBlocks, Counter } from '../shared/counters.js';
import { systemClock } from '../shared/clock.js';
import { loadNative } from '../shared/native.js';
import { NO_PUBLISHED, compilePublished } from '../shared/inbound-filter.js';
import { BufferPool } from '../shared/buffer-pool.js';
import { RingSojourn } from './ring-sojourn.js';

/** Records taken from the ring per pass before the event loop gets a turn. */
const MAX_RECORDS_PER_PASS = 1024;
/** Upper bound on one wait for the ring, so a stop or a missed edge is noticed anyway. */
const RING_WAIT_MS = 1000;
/** Batch buffers (~72 KiB each) a shard keeps for reuse: enough for the writes one busy
 *  tunnel has in flight between two write callbacks, ~2.3 MiB per shard at most. */
const FREE_BATCH_BUFFERS = 32;
/** Decrypted TLS data of every connection of a shard is read into one buffer of this size
 *  (a TLS record holds at most 16 KiB; tls-read-buffer.ts). */
const READ_BUFFER_BYTES = 64 * 1024;

interface PendingAccept {
  connId: number;
  remote: string;
  error: string | undefined;
  /** The accepted TCP socket (before TLS): its bytesRead tells whether a ClientHello began. */
  raw: net.Socket;
  acceptedAt: number;
}

/** The revocations of the material's CRL; none when it has none (the main thread validated it). */
function revocationsOf(material: TlsMaterial): Revocations {
  if (material.crl === undefined) return NO_REVOCATIONS;
  const parsed = parseRevocations(material.crl, material.ca);
  return parsed.ok ? parsed.value : NO_REVOCATIONS;
}

class Shard implements ConnectionOwner, RecordHandler {
  private readonly log: Logger;
  private readonly toTunnel: SpscRing;
  /** This shard's way into the TUN device (its own descriptor, owned by the datapath). */
  private readonly tun: TunWriter;
  /** This shard's counter block (this thread is its only writer). */
  private readonly counters: Float64Array;
  private readonly connections = new Map<number, TunnelConnection>();
  /** Frame batch buffers, shared by this shard's connections (buffer-pool.ts). */
  private readonly batchPool = new BufferPool(FREE_BATCH_BUFFERS);
  /** Where every connection's decrypted chunks land; each is decoded before the next read. */
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  /** Active connection per link id: the lookup the outbound path does per packet. */
  private readonly activeByLink: (TunnelConnection | undefined)[] = [];
  /** How long records wait in toTunnel (for CoDel): measured once per pass. */
  private readonly ringSojourn = new RingSojourn();
  private ringDelayMs = 0;
  /** The time of the current pass (with CoDel), read once per pass, not per packet. */
  private passNowMs = -1;
  /** The connection added to `dirty` last: consecutive records of one tunnel add it once. */
  private lastDirty: TunnelConnection | undefined;
  /** Connections with frames gathered in this pass, flushed once at its end. */
  private readonly dirty = new Set<TunnelConnection>();
  private links = new Map<string, ShardLink>();
  /** Accepted sockets in their TLS handshake, by remote address:port. */
  private readonly pendingAccepts = new Map<string, PendingAccept>();
  private tlsMaterial: TlsMaterial;
  /** Revoked serials of the CRL in force: TLS checks new handshakes, this the running tunnels. */
  private revocations: Revocations = NO_REVOCATIONS;
  /** Shared by every connection of this shard; `published` is replaced on MeshService changes. */
  private readonly local: LocalIdentity;
  private readonly acceptor: tls.Server;
  private running = true;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private resolveStopped!: () => void;
  readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));

  constructor(private readonly init: ShardInit) {
    this.log = createLogger({ level: isLogLevel(init.logLevel) ? init.logLevel : 'info' }, { component: 'shard', shard: init.shardIndex });
    this.toTunnel = new SpscRing(init.toTunnelRing);
    this.counters = new CounterBlocks(init.counters).block(init.counterBlock);
    this.tun = new TunWriter(init.tunFd, this.counters, init.vnetHdr ?? false);
    this.tlsMaterial = init.tls;
    this.revocations = revocationsOf(init.tls);
    this.local = { ...init.local, published: init.published ? compilePublished(init.published) : NO_PUBLISHED };
    this.setLinks(init.links);
    // Accepted sockets are handed to a tls.Server that never listens: it gives accepted
    // connections the same verification (requestCert + rejectUnauthorized) as a listening one.
    // A bare server-side TLSSocket would accept a client certificate of any CA (Node rejects
    // it only in tls.Server's handler): docs/architecture.md, "Security model".
    this.acceptor = tls.createServer({
      ...this.secureContextOptions(),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [ALPN_PROTOCOL],
      handshakeTimeout: init.tunables.handshakeTimeoutMs,
    });
    this.acceptor.on('secureConnection', (socket: tls.TLSSocket) => this.onAccepted(socket));
    this.acceptor.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => this.onAcceptError(err, socket));
    init.port.on('message', (msg: MainToShard) => this.onMessage(msg));
  }

  start(): void {
    this.keepaliveTimer = setInterval(() => this.tick(), this.init.tunables.keepaliveMs);
    void this.pump();
  }

  // --- outbound: ring -> tunnels ---

  private async pump(): Promise<void> {
    while (this.running) {
      const signal = this.toTunnel.signalValue();
      const taken = this.pass(MAX_RECORDS_PER_PASS);
      if (taken === 0) await this.toTunnel.waitAsync(signal, RING_WAIT_MS);
      else await yieldToEventLoop(); // let socket I/O run between passes
    }
  }

  /** Takes up to maxRecords from the ring into the tunnels and writes what they gathered. */
  private pass(maxRecords: number): number {
    if (this.init.tunables.queueDelayTargetMs > 0) {
      this.passNowMs = systemClock.now();
      this.ringDelayMs = this.ringSojourn.update(this.toTunnel.producedPosition(), this.toTunnel.consumedPosition(), this.passNowMs);
    }
    const taken = this.toTunnel.read(this, maxRecords);
    for (const conn of this.dirty) conn.flush();
    this.dirty.clear();
    this.lastDirty = undefined;
    return taken;
  }

  /** RecordHandler: one packet from the TUN ([virtio_net_hdr][packet] with vnetHdr), tagged with its link id. */
  onRecord(data: Uint8Array, offset: number, length: number, linkId: number): void {
    const conn = this.activeByLink[linkId];
    if (conn === undefined) {
      this.counters[Counter.noTunnelDrops]++;
      return;
    }
    if (!conn.enqueue(data, offset, length, this.ringDelayMs, this.passNowMs)) {
      this.counters[Counter.tunnelBackpressureDrops]++;
      return;
    }
    if (conn !== this.lastDirty) {
      this.dirty.add(conn);
      this.lastDirty = conn;
    }
  }

  // --- connections ---

  identifyPeer(names: string[]): ShardLink | string {
    const match = findLinkForPeer(names, this.links.values());
    return match.ok ? match.link : match.reason;
  }

  established(conn: TunnelConnection): void {
    const cipher = `${conn.socket.getProtocol() ?? ''} ${conn.socket.getCipher()?.standardName ?? ''}`.trim();
    this.post({ type: 'established', connId: conn.connId, linkId: conn.link!.linkId, dialed: conn.dialed, peerVersion: conn.peerVersion, peerDns: conn.peerDns, peerMeshDnsPort: conn.peerMeshDnsPort, badHelloExtensions: conn.badHelloExtensions, cipher });
  }

  closed(conn: TunnelConnection, reason: string, handshakeFailure: boolean): void {
    this.connections.delete(conn.connId);
    this.dirty.delete(conn);
    if (this.lastDirty === conn) this.lastDirty = undefined;
    if (conn.link && this.activeByLink[conn.link.linkId] === conn) this.activeByLink[conn.link.linkId] = undefined;
    this.post({ type: 'closed', connId: conn.connId, linkId: conn.link?.linkId ?? null, reason, handshakeFailure, traffic: conn.traffic });
  }

  private dial(connId: number, linkId: number, host: string, port: number): void {
    const socket = tls.connect({
      ...this.secureContextOptions(),
      host,
      port,
      servername: net.isIP(host) ? undefined : host,
      minVersion: 'TLSv1.2',
      ALPNProtocols: [ALPN_PROTOCOL],
      rejectUnauthorized: true,
    });
    const conn = this.track(connId, true, socket);
    socket.once('secureConnect', () => {
      if (this.closeIfRevoked(conn)) return;
      conn.onSecure();
      if (conn.link && conn.link.linkId !== linkId) conn.close(`dialed link ${linkId} but the peer certificate names link ${conn.link.name}`, true);
    });
  }

  private adopt(connId: number, fd: number, remote: string): void {
    let raw: net.Socket;
    try {
      raw = new net.Socket({ fd, readable: true, writable: true });
    } catch (err) {
      // The descriptor is ours (a dup made for this shard): close it, or it leaks.
      try {
        closeSync(fd);
      } catch {
        // already invalid: nothing to close
      }
      this.post({ type: 'closed', connId, linkId: null, reason: `cannot adopt socket from ${remote}: ${(err as Error).message}`, handshakeFailure: true });
      return;
    }
    if (raw.remoteAddress === undefined || raw.remotePort === undefined) {
      // The peer reset the connection before this shard got it; keying it as
      // "undefined:undefined" would let a second such socket overwrite it and leak its report.
      raw.destroy();
      this.post({ type: 'closed', connId, linkId: null, reason: `connection from ${remote} was gone before its TLS handshake`, handshakeFailure: true });
      return;
    }
    const key = `${raw.remoteAddress}:${raw.remotePort}`;
    this.pendingAccepts.set(key, { connId, remote, error: undefined, raw, acceptedAt: Date.now() });
    raw.once('close', () => {
      const pending = this.pendingAccepts.get(key);
      if (!pending) return;
      this.pendingAccepts.delete(key);
      this.post({ type: 'closed', connId, linkId: null, reason: pending.error ?? 'closed during TLS handshake', handshakeFailure: true });
    });
    // The acceptor wraps the socket in a TLSSocket with the server's verification settings.
    this.acceptor.emit('connection', raw);
  }

  /** An accepted socket finished its TLS handshake (client certificate verified by the CA). */
  private onAccepted(socket: tls.TLSSocket): void {
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const pending = this.pendingAccepts.get(key);
    if (!pending) {
      socket.destroy();
      return;
    }
    this.pendingAccepts.delete(key);
    const conn = this.track(pending.connId, false, socket);
    if (!this.closeIfRevoked(conn)) conn.onSecure();
  }

  private onAcceptError(err: Error, socket: tls.TLSSocket): void {
    const pending = this.pendingAccepts.get(`${socket.remoteAddress}:${socket.remotePort}`);
    if (pending) pending.error = `TLS handshake with ${pending.remote} failed: ${err.message}`;
    socket.destroy();
  }

  private track(connId: number, dialed: boolean, socket: tls.TLSSocket): TunnelConnection {
    const conn = new TunnelConnection(connId, dialed, socket, this, this.local, this.tun, this.counters, this.init.tunables, systemClock, this.init.vnetHdr ?? false, this.batchPool, this.readBuffer);
    this.connections.set(connId, conn);
    return conn;
  }

  private tick(): void {
    this.closeSilentAccepts();
    for (const conn of this.connections.values()) {
      conn.tick();
      if (conn.state === 'active' && conn.link) {
        this.post({ type: 'health', connId: conn.connId, linkId: conn.link.linkId, rttMs: conn.rttMs, lastReceiveAgeMs: Date.now() - conn.lastReceiveAt, traffic: conn.traffic });
      }
    }
  }

  /** Accepted connections that have not sent a byte within clientHelloTimeoutMs are closed. */
  private closeSilentAccepts(): void {
    const limitMs = this.init.tunables.clientHelloTimeoutMs;
    const now = Date.now();
    for (const pending of this.pendingAccepts.values()) {
      if (pending.raw.bytesRead > 0 || now - pending.acceptedAt < limitMs) continue;
      pending.error = `${pending.remote} sent no TLS ClientHello within ${limitMs} ms`;
      pending.raw.destroy();
    }
  }

  // --- control messages ---

  private onMessage(msg: MainToShard): void {
    switch (msg.type) {
      case 'links':
        this.setLinks(msg.links);
        break;
      case 'tls':
        this.setTls(msg.tls);
        break;
      case 'published':
        this.local.published = compilePublished(msg.published);
        break;
      case 'dial':
        this.dial(msg.connId, msg.linkId, msg.host, msg.port);
        break;
      case 'adopt':
        this.adopt(msg.connId, msg.fd, msg.remote);
        break;
      case 'activate': {
        const conn = this.connections.get(msg.connId);
        if (conn?.link && conn.state === 'established') {
          conn.activate();
          this.activeByLink[conn.link.linkId] = conn;
        }
        break;
      }
      case 'close':
        this.connections.get(msg.connId)?.close(msg.reason, false);
        break;
      case 'stop':
        this.stop();
        break;
    }
  }

  private setLinks(links: ShardLink[]): void {
    this.links = new Map(links.map((l) => [l.name, l]));
    const byId = new Map(links.map((l) => [l.linkId, l]));
    for (const conn of this.connections.values()) {
      if (!conn.link) continue;
      const current = byId.get(conn.link.linkId);
      if (!current || tunnelPeerChanged(conn.link, current)) {
        conn.close(current ? `link ${conn.link.name} changed its endpoint or address` : `link ${conn.link.name} was removed`, false);
      } else {
        conn.link = current; // e.g. a changed cidr, egress or ingress: checks use the new one at once
      }
    }
  }

  /**
   * Certificates and cipher preference, for both dialing and accepting. Node takes TLS 1.3
   * suites in `ciphers` (names starting TLS_), after which the TLS 1.2 defaults stay; in
   * TLS 1.3 the accepting side's order decides (OpenSSL), so our order applies to every
   * tunnel we accept, and to those we dial when the peer runs the same default.
   */
  private secureContextOptions(): tls.SecureContextOptions {
    if (!this.init.tlsCiphers) return { ...this.tlsMaterial };
    const tls12 = tls.DEFAULT_CIPHERS.split(':').filter((c) => c !== '' && !c.startsWith('TLS_'));
    return { ...this.tlsMaterial, ciphers: [this.init.tlsCiphers, ...tls12].join(':'), honorCipherOrder: true };
  }

  /**
   * New material applies to new handshakes; established tunnels keep running, except those
   * whose peer certificate the new CRL revokes: TLS never re-checks a running connection.
   */
  private setTls(material: TlsMaterial): void {
    this.tlsMaterial = material;
    this.revocations = revocationsOf(material);
    this.acceptor.setSecureContext(this.secureContextOptions());
    let closed = 0;
    for (const conn of [...this.connections.values()]) if (this.closeIfRevoked(conn)) closed++;
    this.log.info('TLS material reloaded; new connections use it', { revokedTunnelsClosed: closed });
  }

  /**
   * Closes a connection whose peer certificate (or an intermediate of its chain) the CRL in
   * force revokes. Also run when a handshake completes: it may have begun under older material.
   */
  private closeIfRevoked(conn: TunnelConnection): boolean {
    if (this.revocations.byIssuer.size === 0) return false;
    const serial = revokedInChain(conn.socket.getPeerCertificate(true) as PeerCertificateChain, this.revocations);
    if (serial === undefined) return false;
    conn.close(`peer certificate serial ${serial} is revoked by the CRL`, conn.link === undefined);
    return true;
  }

  private stop(): void {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.keepaliveTimer);
    for (const conn of [...this.connections.values()]) conn.close('shard stopping', false);
    this.init.port.close();
    this.resolveStopped();
  }

  private post(msg: ShardToMain): void {
    this.init.port.postMessage(msg);
  }
}

export default async function runShard(init: ShardInit): Promise<{ shardIndex: number }> {
  // So per-thread CPU (/proc/<pid>/task/<tid>/stat, top -H) tells the shards apart.
  loadNative().setThreadName(`kl-shard-${init.shardIndex}`);
  const shard = new Shard(init);
  shard.start();
  await shard.stopped;
  return { shardIndex: init.shardIndex };
}
