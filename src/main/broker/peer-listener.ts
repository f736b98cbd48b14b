// Accepts peer TCP connections on --broker-port and hands each to a shard. The main thread
// never reads from them (pauseOnConnect): it dup()s the descriptor for the shard and
// destroys its own socket, so exactly one event loop owns each descriptor.
// Why one listener here rather than one per shard: the handshake caps (total and per
// source address, PeerAdmission) and the choice of the least loaded shard are made in one
// place before any shard spends TLS work. Node 24 could let each shard listen on the port
// itself (listen's reusePort, SO_REUSEPORT), but the kernel would then pick the shard by a
// hash of the addresses, the caps would hold per shard only, and connections waiting in a
// crashed shard's accept queue would be reset. Why a dup'd descriptor rather than the socket:
// it works on every Node and platform this runs on; Node 24.22 can also move an accepted
// net.Socket to a worker (postMessage transfer list, Unix only, nodejs/node#64225), which
// would spare the addon's dup but change the shard protocol for no gain in behaviour.
import net from 'node:net';
import { once } from 'node:events';
import type { NativeAddon } from '../../shared/native.js';
import type { Logger } from '../../shared/log.js';

/**
 * Admission of new connections: accepted sockets still in their TLS handshake cost a shard
 * memory and CPU until they finish or time out, so a flood of connects must not grow them
 * without bound. A cap per source address as well keeps one flooding host from taking all
 * the slots, so a real peer dialing in during the flood is still let in.
 */
export interface PeerAdmission {
  /** Accepted connections not yet identified as a link's peer. */
  pendingHandshakes(): number;
  /** At most this many; more are closed at once and counted. */
  maxPendingHandshakes: number;
  /** Pending handshakes from one source address. */
  pendingHandshakesFrom(address: string): number;
  /** At most this many from one address; more are closed at once and counted. */
  maxPendingPerAddress: number;
}

export type RefusalReason = 'pending-total' | 'pending-per-address';

export class PeerListener {
  private readonly server: net.Server;
  /** Connections refused, by why. */
  readonly refused: Record<RefusalReason, number> = { 'pending-total': 0, 'pending-per-address': 0 };
  /** The refusal reason of the current burst: one log line per burst, not per connection. */
  private refusing: RefusalReason | undefined;

  constructor(
    private readonly native: NativeAddon,
    private readonly handOver: (fd: number, remote: string, address: string) => void,
    private readonly log: Logger,
    private readonly admission: PeerAdmission = { pendingHandshakes: () => 0, maxPendingHandshakes: Infinity, pendingHandshakesFrom: () => 0, maxPendingPerAddress: Infinity },
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
    const address = socket.remoteAddress ?? '';
    const remote = `${address}:${socket.remotePort}`;
    const refusal = this.refusalOf(address);
    if (refusal !== undefined) {
      this.refused[refusal]++;
      if (this.refusing !== refusal) {
        const max = refusal === 'pending-total' ? this.admission.maxPendingHandshakes : this.admission.maxPendingPerAddress;
        const what = refusal === 'pending-total' ? 'too many TLS handshakes pending' : 'too many TLS handshakes pending from one address';
        this.log.warn(`refusing peer connections: ${what}`, { max, remote });
      }
      this.refusing = refusal;
      socket.destroy();
      return;
    }
    this.refusing = undefined;
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
    this.handOver(owned, remote, address);
  }

  private refusalOf(address: string): RefusalReason | undefined {
    if (this.admission.pendingHandshakes() >= this.admission.maxPendingHandshakes) return 'pending-total';
    if (this.admission.pendingHandshakesFrom(address) >= this.admission.maxPendingPerAddress) return 'pending-per-address';
    return undefined;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
