// Accepts peer TCP connections on --broker-port and hands each to a shard. The main thread
// never reads from them (pauseOnConnect): it dup()s the descriptor for the shard and
// destroys its own socket, so exactly one event loop owns each descriptor (Node 20 has no
// reusePort, and a socket object cannot be posted to a worker).
import net from 'node:net';
import { once } from 'node:events';
import type { NativeAddon } from '../shared/native.js';
import type { Logger } from './log.js';

export class PeerListener {
  private readonly server: net.Server;

  constructor(
    private readonly native: NativeAddon,
    private readonly handOver: (fd: number, remote: string) => void,
    private readonly log: Logger,
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
