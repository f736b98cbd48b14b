// Messages between the main thread (control plane) and the shard workers, sent over a
// MessagePort per shard. Control-plane cadence only: never one message per packet.
import type { MessagePort } from 'node:worker_threads';
import type { InboundPeer, PublishedAddress } from './inbound-filter.js';
import type { Ipv4Prefix } from './types.js';
import { MAX_FRAME_PAYLOAD, type HelloDns } from './wire.js';
import { requireIntegerIn } from './integer-range.js';

/** What a shard needs to know about a link to identify and check a peer. */
export interface ShardLink {
  linkId: number;
  name: string;
  endpointHost: string;
  endpointPort: number;
  clusterAddress: number;
  /** Absent for a link that carries only egress. */
  serviceCidr?: Ipv4Prefix;
  /** The link's side of the inbound check, compiled by the main thread (compileInboundPeer). */
  inbound: InboundPeer;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string;
  /** PEM X509 CRLs of the CA(s), from the Secret's ca.crl or --crl-file; absent: none. */
  crl?: string;
}

export interface ShardTunables {
  /** Interval between keepalive frames on an idle or busy tunnel. */
  keepaliveMs: number;
  /** A tunnel that received nothing for this long is declared dead and closed. */
  deadAfterMs: number;
  /** TLS handshake plus hello exchange must finish within this time. */
  handshakeTimeoutMs: number;
  /**
   * An accepted connection that sent no byte (no ClientHello) for this long is closed: idle
   * connects must not hold handshake slots for the whole handshakeTimeoutMs. Checked on
   * the keepalive tick, so the real deadline is up to keepaliveMs later.
   */
  clientHelloTimeoutMs: number;
  /** Bytes of framed packets gathered before one socket write. */
  writeBatchBytes: number;
  /**
   * Above this many bytes queued in a TLS socket, packets for it are dropped and counted.
   * The kernel's unsent bytes are bounded by the same figure (TCP_NOTSENT_LOWAT), so a
   * tunnel holds at most about twice this much: the latency a saturated tunnel adds.
   */
  maxQueuedBytes: number;
  /**
   * CoDel target for the time outgoing packets wait in the shard's ring and the tunnel's
   * socket queue, ms; 0 = no CoDel (only the byte bounds). See src/shared/codel.ts.
   */
  queueDelayTargetMs: number;
  /** CoDel interval, ms: how long the delay may stay above target before bulk packets are dropped. */
  queueDelayIntervalMs: number;
  /** Largest frame payload accepted or sent. */
  maxFramePayload: number;
}

export const DEFAULT_SHARD_TUNABLES: ShardTunables = {
  keepaliveMs: 2_000,
  deadAfterMs: 8_000,
  handshakeTimeoutMs: 10_000,
  clientHelloTimeoutMs: 2_000,
  writeBatchBytes: 64 * 1024,
  maxQueuedBytes: 4 * 1024 * 1024,
  queueDelayTargetMs: 0,
  queueDelayIntervalMs: 100,
  maxFramePayload: 65_535,
};

/** Largest writeBatchBytes: one batch is at most one 64 KiB socket write. */
export const MAX_WRITE_BATCH_BYTES = 64 * 1024;
/** Smallest maxQueuedBytes (--tunnel-queue): one write batch plus one largest frame. */
export const MIN_TUNNEL_QUEUE_BYTES = 2 * MAX_WRITE_BATCH_BYTES;
export const MAX_TUNNEL_QUEUE_BYTES = 64 * 1024 * 1024;
/** Longest CoDel target or interval (--queue-delay-target, --queue-delay-interval), ms. */
export const MAX_QUEUE_DELAY_MS = 10_000;
/** Longest timer of a tunnel (dead detection, handshake): ten minutes. */
const MAX_TUNNEL_TIMER_MS = 600_000;

/**
 * Checks tunables before they reach the shards (where the DataPlane builds them): a
 * RangeError names the option and its accepted range. Timers that depend on each other are
 * checked together: a tunnel must survive one late keepalive (deadAfterMs >= 2 keepalives)
 * and the ClientHello deadline falls within the handshake's.
 */
export function validateShardTunables(tunables: ShardTunables): ShardTunables {
  const integerIn = (name: keyof ShardTunables, min: number, max: number): void => requireIntegerIn(`shard tunable ${name}`, tunables[name], min, max);
  integerIn('keepaliveMs', 100, 60_000);
  integerIn('deadAfterMs', 2 * tunables.keepaliveMs, MAX_TUNNEL_TIMER_MS);
  integerIn('handshakeTimeoutMs', 100, MAX_TUNNEL_TIMER_MS);
  integerIn('clientHelloTimeoutMs', 100, tunables.handshakeTimeoutMs);
  integerIn('writeBatchBytes', 1, MAX_WRITE_BATCH_BYTES);
  integerIn('maxQueuedBytes', MIN_TUNNEL_QUEUE_BYTES, MAX_TUNNEL_QUEUE_BYTES);
  integerIn('maxFramePayload', 1, MAX_FRAME_PAYLOAD);
  integerIn('queueDelayIntervalMs', 1, MAX_QUEUE_DELAY_MS);
  integerIn('queueDelayTargetMs', 0, tunables.queueDelayIntervalMs);
  return tunables;
}

/** This broker's identity in the hello; dns and meshDnsPort are announced to peers (absent: not announced). */
export interface ShardLocal {
  clusterAddress: number;
  serviceCidr: Ipv4Prefix;
  dns?: HelloDns;
  /** --dns-port: where peers ask this cluster's MeshService names (0: no mesh DNS). */
  meshDnsPort?: number;
}

/** Data passed once when a shard starts (SharedArrayBuffers are shared, not copied). */
export interface ShardInit {
  shardIndex: number;
  port: MessagePort;
  /** TUN reader -> this shard: packets to send into tunnels, tagged with the link id. */
  toTunnelRing: SharedArrayBuffer;
  /**
   * This shard's descriptor of the TUN device (a dup the datapath owns and closes): the
   * shard writes the packets it receives from tunnels to it itself.
   */
  tunFd: number;
  /** All data-plane counter blocks (CounterBlocks) and the index of this shard's block. */
  counters: SharedArrayBuffer;
  counterBlock: number;
  local: ShardLocal;
  /** Mesh addresses published by MeshServices (the inbound check admits their ports). */
  published?: PublishedAddress[];
  /** The TUN has offloads: ring records and TUN writes are [virtio_net_hdr][IP packet]; the
   *  shard announces gso to peers and passes super-packets through. Default false. */
  vnetHdr?: boolean;
  tls: TlsMaterial;
  /** TLS 1.3 cipher suites, preferred first (OpenSSL names, colon-separated); default Node's. */
  tlsCiphers?: string;
  links: ShardLink[];
  tunables: ShardTunables;
  logLevel: string;
}

/** IP packets and bytes one connection carried since it was opened (tx: to the peer). */
export interface ConnectionTraffic {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}

export type MainToShard =
  | { type: 'links'; links: ShardLink[] }
  | { type: 'tls'; tls: TlsMaterial }
  /** The MeshService addresses and ports changed. */
  | { type: 'published'; published: PublishedAddress[] }
  /** Dial this link; report with the same connId. */
  | { type: 'dial'; connId: number; linkId: number; host: string; port: number }
  /** Adopt an accepted TCP connection: fd is a dup() owned by this shard from now on. */
  | { type: 'adopt'; connId: number; fd: number; remote: string }
  /** The main thread chose this connection as its link's tunnel: start forwarding. */
  | { type: 'activate'; connId: number }
  | { type: 'close'; connId: number; reason: string }
  | { type: 'stop' };

export type ShardToMain =
  /** Handshake and hello done; the peer is the link linkId. Awaits 'activate' or 'close'. */
  | { type: 'established'; connId: number; linkId: number; dialed: boolean; peerVersion: number; peerDns?: HelloDns; /** The peer's mesh DNS port (0: none); absent from brokers without the extension. */ peerMeshDnsPort?: number; /** Hello extensions ignored as malformed (logged once by the main thread). */ badHelloExtensions?: string[]; /** e.g. TLSv1.3 TLS_AES_128_GCM_SHA256 */ cipher?: string }
  /** The connection ended (or never got established). */
  | { type: 'closed'; connId: number; linkId: number | null; reason: string; handshakeFailure: boolean; traffic?: ConnectionTraffic }
  /** Periodic per-connection health from keepalives, with the traffic carried so far. */
  | { type: 'health'; connId: number; linkId: number; rttMs: number | null; lastReceiveAgeMs: number; traffic: ConnectionTraffic };
