// Sends queries to cluster DNS servers and returns their raw answers. One UDP socket per
// route for all clusters (not one per link): the mesh route's socket is bound to this
// broker's cluster address, so a query to a peer's DNS IP follows the route into the TUN
// device, leaves through the tunnel with the source the peer's inbound check admits, and
// the answer comes back the same way. The local route (this cluster's own DNS) uses an
// unbound socket. TCP (after a truncated UDP answer) opens one connection per query: rare.
//
// Time is injected (a Clock), so tests decide timeouts without waiting for them.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Clock, TimerHandle } from '../../shared/clock.js';

export type UpstreamRoute = 'mesh' | 'local';
export type UpstreamTransport = 'udp' | 'tcp';

export interface UpstreamServer {
  /** IPv4 address as text. */
  ip: string;
  port: number;
  route: UpstreamRoute;
}

export interface UpstreamClientOptions {
  /** Source address for the mesh route (this broker's cluster address). */
  meshSourceAddress: string;
  /** A query without an answer after this long fails (the client then gets SERVFAIL). */
  timeoutMs: number;
  /** Largest TCP answer accepted. */
  maxTcpAnswerBytes: number;
}

export const DEFAULT_UPSTREAM_TIMEOUT_MS = 1500;

interface Pending {
  server: UpstreamServer;
  /** The id the caller's query had: the answer gets it back. */
  callerId: number;
  resolve: (answer: Buffer) => void;
  reject: (err: Error) => void;
  timer: TimerHandle;
}

/** What the resolver needs: one exchange with a cluster DNS server. */
export interface Upstream {
  /** The server's answer to `query`, carrying the query's own id (whatever id went on the wire). */
  exchange(server: UpstreamServer, query: Buffer, transport: UpstreamTransport): Promise<Buffer>;
}

export class UpstreamClient implements Upstream {
  private readonly sockets = new Map<UpstreamRoute, dgram.Socket>();
  /** Per route: DNS id -> the query waiting for it. */
  private readonly pending = new Map<UpstreamRoute, Map<number, Pending>>([['mesh', new Map()], ['local', new Map()]]);
  private readonly tcpSockets = new Set<net.Socket>();
  /** Answers from the wrong address, with an unknown id, or too short: dropped. */
  unexpectedAnswers = 0;
  private stopped = false;

  constructor(
    private readonly options: UpstreamClientOptions,
    private readonly clock: Clock,
    private readonly random: () => number = Math.random,
  ) {}

  /** Binds the UDP sockets (the mesh one to the cluster address, which must exist by now). */
  async start(): Promise<void> {
    await Promise.all([this.openSocket('mesh', this.options.meshSourceAddress), this.openSocket('local', undefined)]);
  }

  private openSocket(route: UpstreamRoute, address: string | undefined): Promise<void> {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (msg, rinfo) => this.onAnswer(route, msg, rinfo));
    // A send error (e.g. no route while the TUN is being set up) fails only that query, through its timeout.
    socket.on('error', () => undefined);
    this.sockets.set(route, socket);
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port: 0, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  }

  exchange(server: UpstreamServer, query: Buffer, transport: UpstreamTransport): Promise<Buffer> {
    if (this.stopped) return Promise.reject(new Error('DNS forwarder stopped'));
    return transport === 'udp' ? this.exchangeUdp(server, query) : this.exchangeTcp(server, query);
  }

  private exchangeUdp(server: UpstreamServer, query: Buffer): Promise<Buffer> {
    const socket = this.sockets.get(server.route);
    const pending = this.pending.get(server.route)!;
    if (!socket) return Promise.reject(new Error('DNS forwarder not started'));
    let id = Math.floor(this.random() * 0x10000) & 0xffff;
    for (let tries = 0; pending.has(id); tries++) {
      if (tries > 0xffff) return Promise.reject(new Error('no free DNS id'));
      id = (id + 1) & 0xffff;
    }
    const packet = Buffer.from(query);
    packet.writeUInt16BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        pending.delete(id);
        reject(new Error(`no answer from ${server.ip}:${server.port} within ${this.options.timeoutMs} ms`));
      }, this.options.timeoutMs);
      pending.set(id, { server, callerId: query.readUInt16BE(0), resolve, reject, timer });
      socket.send(packet, server.port, server.ip, (err) => {
        if (!err) return;
        this.clock.clearTimeout(timer);
        pending.delete(id);
        reject(new Error(`sending to ${server.ip}:${server.port} failed: ${err.message}`, { cause: err }));
      });
    });
  }

  private onAnswer(route: UpstreamRoute, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const pending = this.pending.get(route)!;
    const entry = msg.length >= 12 ? pending.get(msg.readUInt16BE(0)) : undefined;
    // Only the server asked may answer: anything else is a stray or a spoofing attempt.
    if (!entry || rinfo.address !== entry.server.ip || rinfo.port !== entry.server.port) {
      this.unexpectedAnswers++;
      return;
    }
    pending.delete(msg.readUInt16BE(0));
    this.clock.clearTimeout(entry.timer);
    msg.writeUInt16BE(entry.callerId, 0);
    entry.resolve(msg);
  }

  private exchangeTcp(server: UpstreamServer, query: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const localAddress = server.route === 'mesh' ? this.options.meshSourceAddress : undefined;
      const socket = net.connect({ host: server.ip, port: server.port, localAddress });
      this.tcpSockets.add(socket);
      let received = Buffer.alloc(0);
      let settled = false;
      const finish = (err: Error | undefined, answer?: Buffer) => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        this.tcpSockets.delete(socket);
        socket.destroy();
        if (err) reject(err);
        else resolve(answer!);
      };
      const timer = this.clock.setTimeout(
        () => finish(new Error(`no TCP answer from ${server.ip}:${server.port} within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      socket.on('connect', () => {
        const framed = Buffer.alloc(2 + query.length);
        framed.writeUInt16BE(query.length, 0);
        query.copy(framed, 2);
        socket.write(framed);
      });
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 2) return;
        const length = received.readUInt16BE(0);
        if (length > this.options.maxTcpAnswerBytes) return finish(new Error(`TCP answer of ${length} bytes is too large`));
        if (received.length >= 2 + length) finish(undefined, received.subarray(2, 2 + length));
      });
      socket.on('error', (err) => finish(new Error(`TCP to ${server.ip}:${server.port} failed: ${err.message}`, { cause: err })));
      socket.on('close', () => finish(new Error(`TCP to ${server.ip}:${server.port} closed before an answer`)));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const pending of this.pending.values()) {
      for (const entry of pending.values()) {
        this.clock.clearTimeout(entry.timer);
        entry.reject(new Error('DNS forwarder stopped'));
      }
      pending.clear();
    }
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
    await Promise.all([...this.sockets.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.sockets.clear();
  }
}
