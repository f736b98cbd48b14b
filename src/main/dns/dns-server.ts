// The broker's DNS listener: UDP and TCP on one port (RFC 1035 4.2; TCP messages carry a
// 2-byte length). Each query goes to the resolver; what it answers is sent back and
// reported to `onResolved` (the metrics). TCP is bounded: connections at once, queries
// outstanding per connection, bytes buffered, and idle connections are closed.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../../shared/log.js';
import type { Resolution } from './mesh-resolver.js';
import type { UpstreamTransport } from './upstream-client.js';
import { bindUdpAndTcp } from './udp-tcp-port.js';

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

/** `client`: the asker's IPv4 address as text (whom the answer goes to). */
export type ResolveQuery = (query: Buffer, transport: UpstreamTransport, client: string) => Promise<Resolution>;

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

  /** Listens on UDP and TCP; resolves with the port (useful when options.port is 0 in tests). */
  async listen(): Promise<number> {
    const { udp, tcp, port } = await bindUdpAndTcp(
      this.options.port,
      this.options.host,
      () => dgram.createSocket('udp4'),
      () => net.createServer((socket) => this.onConnection(socket)),
    );
    udp.on('message', (msg, rinfo) => void this.answerUdp(msg, rinfo));
    udp.on('error', (err) => this.log.warn('DNS UDP socket error', { err }));
    tcp.maxConnections = this.options.maxTcpConnections;
    this.udp = udp;
    this.tcp = tcp;
    return port;
  }

  private async answerUdp(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    const resolution = await this.resolveSafely(msg, 'udp', rinfo.address);
    this.onResolved(resolution, 'udp');
    if (resolution.reply) this.udp?.send(resolution.reply, rinfo.port, rinfo.address);
  }

  /** The resolver does not throw; if it ever did, the query is dropped, never the broker. */
  private async resolveSafely(msg: Buffer, transport: UpstreamTransport, client: string): Promise<Resolution> {
    try {
      return await this.resolve(msg, transport, client);
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
        void this.resolveSafely(Buffer.from(query), 'tcp', socket.remoteAddress ?? '').then((resolution) => {
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
      new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (this.tcp ? this.tcp.close(() => resolve()) : resolve())),
    ]);
    this.udp = undefined;
    this.tcp = undefined;
  }
}
