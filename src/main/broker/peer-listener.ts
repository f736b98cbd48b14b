// Accepts peer TCP connections on --broker-port and hands each to a shard. The main thread
// never reads from them (pauseOnConnect): it dup()s the descriptor for the shard and
// destroys its own socket, so exactly one event loop owns each descriptor (Node 20 has no
// reusePort, and a socket object cannot be posted to a worker).
import net from 'node:net';
import { once } from 'node:events';
import type { NativeAddon } from '../../shared/native.js';
import type { Logger } from '../../shared/log.js';

/**
 * Admission of new connections: accepted sockets still in their TLS handshake cost a shard
 * memory and CPU until they finish or time out, so a flood of connects must not grow them
 * without bound.
 */
export interface PeerAdmission {
  /** Accepted connections not yet identified as a link's peer. */
  pendingHandshakes(): number;
  /** At most this many; more are closed at once and counted. */
  maxPendingHandshakes: number;
}

export class PeerListener {
  private readonly server: net.Server;
  /** Connections refused because too many handshakes were pending. */
  refused = 0;
  private refusing = false;

  constructor(
    private readonly native: NativeAddon,
    private readonly handOver: (fd: number, remote: string) => void,
    private readonly log: Logger,
    private readonly admission: PeerAdmission = { pendingHandshakes: () => 0, maxPendingHandshakes: Infinity },
  ) {
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => this.onConnection(socket));
    this.server.on('error', (err) => this.log.error('peer listener error', { err }));
  }

  async listen(port: number, host?: string): Promise<number> {
    this.server.listen({ port, host });
    await once(this.server, 'listening');
    return (this.server.address() as net.AddressInfo).port;
  }

  private onConnection(socket: net.Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.admission.pendingHandshakes() >= this.admission.maxPendingHandshakes) {
      this.refused++;
      // One line per burst, not per refused connection: a flood must not flood the log.
      if (!this.refusing) this.log.warn('refusing peer connections: too many TLS handshakes pending', { max: this.admission.maxPendingHandshakes, remote });
      this.refusing = true;
      socket.destroy();
      return;
    }
    this.refusing = false;
    const fd = (socket as net.Socket & { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      this.log.error('accepted socket has no file descriptor; dropping it', { remote });
      socket.destroy();
      return;
    }
    let owned: number;
    try {
      owned = this.native.dup(fd);
    } catch (err) {
      this.log.error('dup of accepted socket failed; dropping it', { remote, err });
      socket.destroy();
      return;
    }
    // Closing our descriptor does not end the connection: the shard's dup keeps it open.
    socket.destroy();
    this.handOver(owned, remote);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
