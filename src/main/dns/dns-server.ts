// The broker's DNS listener: UDP and TCP on one port (RFC 1035 4.2; TCP messages carry a
// 2-byte length). Each query goes to the resolver; what it answers is sent back and
// reported to `onResolved` (the metrics). TCP is bounded: connections at once, queries
// outstanding per connection, bytes buffered, and idle connections are closed.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../../shared/log.js';
import type { Resolution } from './mesh-resolver.js';
import type { UpstreamTransport } from './upstream-client.js';

export interface DnsServerOptions {
  port: number;
  /** Address to listen on; default all (the kubelink-dns Service reaches the broker on its node). */
  host?: string;
  maxTcpConnections: number;
  /** Queries of one TCP connection answered at once; the connection is not read further meanwhile. */
  maxTcpQueriesInFlight: number;
  tcpIdleMs: number;
}

export const DEFAULT_DNS_SERVER_OPTIONS: Omit<DnsServerOptions, 'port'> = { maxTcpConnections: 64, maxTcpQueriesInFlight: 16, tcpIdleMs: 10_000 };

export type ResolveQuery = (query: Buffer, transport: UpstreamTransport) => Promise<Resolution>;

export class DnsServer {
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();

  constructor(
    private readonly options: DnsServerOptions,
    private readonly resolve: ResolveQuery,
    private readonly onResolved: (resolution: Resolution, transport: UpstreamTransport) => void,
    private readonly log: Logger,
  ) {}

  /**
   * Listens on UDP and TCP; resolves with the port (useful when options.port is 0 in tests).
   * With port 0 the kernel picks the UDP port, whose TCP twin may be taken by another
   * process: then another port is tried (a few times), instead of failing at random.
   */
  async listen(): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listenOnce();
      } catch (err) {
        await this.close();
        if (this.options.port !== 0 || attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  private async listenOnce(): Promise<number> {
    const udp = dgram.createSocket('udp4');
    this.udp = udp;
    udp.on('message', (msg, rinfo) => void this.answerUdp(msg, rinfo));
    udp.on('error', (err) => this.log.warn('DNS UDP socket error', { err }));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ port: this.options.port, address: this.options.host }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const port = udp.address().port;
    const tcp = net.createServer((socket) => this.onConnection(socket));
    tcp.maxConnections = this.options.maxTcpConnections;
    this.tcp = tcp;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ port, host: this.options.host }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    return port;
  }

  private async answerUdp(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    const resolution = await this.resolveSafely(msg, 'udp');
    this.onResolved(resolution, 'udp');
    if (resolution.reply) this.udp?.send(resolution.reply, rinfo.port, rinfo.address);
  }

  /** The resolver does not throw; if it ever did, the query is dropped, never the broker. */
  private async resolveSafely(msg: Buffer, transport: UpstreamTransport): Promise<Resolution> {
    try {
      return await this.resolve(msg, transport);
    } catch (err) {
      this.log.error('DNS query failed unexpectedly', { err });
      return { reply: undefined, result: 'dropped', cluster: '', cached: false, problem: String(err) };
    }
  }

  private onConnection(socket: net.Socket): void {
    this.connections.add(socket);
    socket.setTimeout(this.options.tcpIdleMs, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => this.connections.delete(socket));
    let buffered: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    const drain = () => {
      while (inFlight < this.options.maxTcpQueriesInFlight && buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const query = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        inFlight++;
        void this.resolveSafely(Buffer.from(query), 'tcp').then((resolution) => {
          inFlight--;
          this.onResolved(resolution, 'tcp');
          if (resolution.reply && !socket.destroyed) {
            const framed = Buffer.alloc(2 + resolution.reply.length);
            framed.writeUInt16BE(resolution.reply.length, 0);
            resolution.reply.copy(framed, 2);
            socket.write(framed);
          }
          if (socket.isPaused()) socket.resume();
          drain();
        });
      }
      // Backpressure: stop reading while this connection's queries are being answered.
      if (inFlight >= this.options.maxTcpQueriesInFlight) socket.pause();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      drain();
    });
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await Promise.all([
      closing((done) => this.udp?.close(done)),
      // A server that never listened calls back with ERR_SERVER_NOT_RUNNING: closed all the same.
      closing((done) => this.tcp?.close(() => done())),
    ]);
    this.udp = undefined;
    this.tcp = undefined;
  }
}

/** Resolves when `close` calls back, at once when it has nothing to close or throws (a socket whose bind failed). */
function closing(close: (done: () => void) => unknown): Promise<void> {
  return new Promise((resolve) => {
    try {
      if (close(resolve) === undefined) resolve();
    } catch {
      resolve();
    }
  });
}
