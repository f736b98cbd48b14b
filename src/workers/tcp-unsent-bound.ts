// Bounds the bytes the kernel holds unsent on a tunnel's TCP socket (TCP_NOTSENT_LOWAT).
// Without it the send buffer autotunes to megabytes: a saturated tunnel then queues tens
// of milliseconds of packets in the kernel where no drop policy of ours can reach them,
// and every packet behind them (a ping, a DNS answer) waits as long. With it, the excess
// stays in the socket's writable queue, which the shard bounds by dropping
// (ShardTunables.maxQueuedBytes): the inner TCP flows see an early loss and back off.
// See docs/architecture.md, "Queues and latency".
import type tls from 'node:tls';
import { loadNative, SocketOption } from '../shared/native.js';

/** The TCP socket's descriptor under a TLSSocket (dialed or wrapping an adopted socket), or -1. */
export function tlsSocketFd(socket: tls.TLSSocket): number {
  // Node exposes no public accessor: the TLS wrap keeps the TCP handle it sits on as
  // _parent (tls.connect and new TLSSocket(netSocket) alike), and that handle has the fd.
  const fd = (socket as unknown as { _handle?: { _parent?: { fd?: unknown } } })._handle?._parent?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** Sets TCP_NOTSENT_LOWAT to `bytes`; false when the socket has no descriptor to set it on. */
export function boundUnsentBytes(socket: tls.TLSSocket, bytes: number): boolean {
  const fd = tlsSocketFd(socket);
  if (fd < 0) return false;
  loadNative().setSocketOption(fd, SocketOption.IPPROTO_TCP, SocketOption.TCP_NOTSENT_LOWAT, bytes);
  return true;
}
