// Two TunnelConnections joined by an in-memory socket pair: the gso negotiation and what
// reaches the far side's TUN ring for every mix of offload-capable and old peers.
import { describe, test } from 'node:test';
import { systemClock, type Clock } from '../../src/shared/clock.js';
import { FakeClock } from '../helpers/fake-clock.js';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import type tls from 'node:tls';
import { SMALL_PACKET_BYTES, TunnelConnection, type ConnectionOwner } from '../../src/workers/tunnel-connection.js';
import { BufferPool } from '../../src/shared/buffer-pool.js';
import { SpscRing } from '../../src/shared/spsc-ring.js';
import { COUNTERS_PER_BLOCK, Counter, FrameMalformedCounter, inboundDropCounter } from '../../src/shared/counters.js';
import { DEFAULT_SHARD_TUNABLES, type ShardLink } from '../../src/shared/shard-protocol.js';
import { ALPN_PROTOCOL, HelloExtension, KEEPALIVE_BYTES, MAX_HELLO_BYTES, PROTOCOL_VERSION, encodeHello, encodeKeepalive, type HelloDns } from '../../src/shared/wire.js';
import { InboundDrop, NO_PUBLISHED, compileInboundPeer } from '../../src/shared/inbound-filter.js';
import { TRIVIAL_VNET_HEADER, VNET_HDR_BYTES, isTrivialVnetHeader } from '../../src/shared/gso-header.js';
import type { TunSink } from '../../src/workers/tun-output.js';
import { parseIpv4, parsePrefix } from '../../src/shared/cidr.js';
import { payloadBytes, superPacketRecord, tcpv4ChecksumsValid, tcpv4Packet, vnetRecord } from '../fixtures/tcp-fixtures.js';

const A_ADDRESS = '192.168.0.11';
const B_SERVICE = '100.64.16.10';

function prefix(text: string): { network: number; prefixLength: number } {
  const parsed = parsePrefix(text);
  assert.ok(parsed.ok);
  return parsed.value;
}

const A = { clusterAddress: parseIpv4(A_ADDRESS)!, serviceCidr: prefix('100.64.0.0/20') };
const B = { clusterAddress: parseIpv4('192.168.0.12')!, serviceCidr: prefix('100.64.16.0/20') };

/** Delivers writes to its peer's 'data' on a later tick, like a socket. */
class FakeSocket extends EventEmitter {
  peer!: FakeSocket;
  readonly writableLength = 0;
  readonly alpnProtocol = ALPN_PROTOCOL;
  private destroyed = false;
  setNoDelay(): void {}
  getPeerCertificate(): { subject: { CN: string } } {
    return { subject: { CN: 'peer.kubelink.lab' } };
  }
  write(chunk: Buffer, done?: (err?: Error) => void): boolean {
    const copy = Buffer.from(chunk);
    setImmediate(() => {
      done?.();
      this.peer.emit('data', copy);
    });
    return true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

class Owner implements ConnectionOwner {
  establishedCount = 0;
  readonly closedReasons: string[] = [];
  constructor(private readonly link: ShardLink) {}
  identifyPeer(): ShardLink {
    return this.link;
  }
  closed(_conn: TunnelConnection, reason: string): void {
    this.closedReasons.push(reason);
  }
  established(): void {
    this.establishedCount++;
  }
}

/**
 * Stands in for the TUN: keeps what the connection writes, in the form the TUN gets it
 * ([virtio_net_hdr][packet] with vnetHdr, a zero header in front of a plain packet), and
 * checks that views into a chunk are only used between begin and end.
 */
class TunRecorder implements TunSink {
  readonly written: Buffer[] = [];
  private chunk: Uint8Array | null = null;
  constructor(private readonly vnetHdr: boolean) {}
  begin(chunk: Uint8Array): void {
    this.chunk = chunk;
  }
  packet(buf: Uint8Array, offset: number, length: number): void {
    const packet = Buffer.from(buf.subarray(offset, offset + length));
    this.written.push(this.vnetHdr ? Buffer.concat([Buffer.from(TRIVIAL_VNET_HEADER), packet]) : packet);
  }
  record(buf: Uint8Array, offset: number, length: number): void {
    assert.ok(this.vnetHdr, 'records only with vnetHdr');
    this.written.push(Buffer.from(buf.subarray(offset, offset + length)));
  }
  end(): void {
    assert.ok(this.chunk !== null, 'end without begin');
    this.chunk = null;
  }
}

interface Side {
  conn: TunnelConnection;
  owner: Owner;
  counters: Float64Array;
  /** What reached this side's TUN since the last call. */
  drain(): Buffer[];
}

/** The shard tunables of these tests: CoDel only where a test turns it on (it reads the clock). */
const TUNABLES = { ...DEFAULT_SHARD_TUNABLES, queueDelayTargetMs: 0 };

function side(socket: FakeSocket, local: typeof A & { dns?: HelloDns; meshDnsPort?: number }, peer: typeof A, vnetHdr: boolean, dialed: boolean, clock: Clock = systemClock, tunables = TUNABLES): Side {
  const link: ShardLink = { linkId: 1, name: 'peer', endpointHost: 'peer.kubelink.lab', endpointPort: 8088, ...peer, inbound: compileInboundPeer(peer) };
  const owner = new Owner(link);
  const tun = new TunRecorder(vnetHdr);
  const counters = new Float64Array(COUNTERS_PER_BLOCK);
  const conn = new TunnelConnection(1, dialed, socket as unknown as tls.TLSSocket, owner, { ...local, published: NO_PUBLISHED }, tun, counters, tunables, clock, vnetHdr);
  return { conn, owner, counters, drain: () => tun.written.splice(0) };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

/** A (dialing, cluster address A_ADDRESS) and B, handshaken; `aDns`/`bDns` go into their hellos. */
async function pair(aVnet: boolean, bVnet: boolean, aDns?: HelloDns, bDns?: HelloDns): Promise<{ a: Side; b: Side }> {
  const [sa, sb] = [new FakeSocket(), new FakeSocket()];
  sa.peer = sb;
  sb.peer = sa;
  const a = side(sa, { ...A, dns: aDns }, B, aVnet, true);
  const b = side(sb, { ...B, dns: bDns }, A, bVnet, false);
  a.conn.onSecure();
  b.conn.onSecure();
  await settle();
  assert.equal(a.owner.establishedCount, 1, `a: ${a.owner.closedReasons.join()}`);
  assert.equal(b.owner.establishedCount, 1, `b: ${b.owner.closedReasons.join()}`);
  return { a, b };
}

/** Sends ring records from a's TUN side as the shard would: enqueue, then one flush. */
async function send(from: Side, records: Buffer[]): Promise<void> {
  const ring = new SpscRing(SpscRing.allocate(1 << 20));
  for (const record of records) assert.ok(ring.write(record, 0, record.length, 1));
  ring.publish();
  ring.read({ onRecord: (data, offset, length) => assert.ok(from.conn.enqueue(data, offset, length)) }, 1000);
  from.conn.flush();
  await settle();
}

function superRecord(payloadLength: number, source = A_ADDRESS): Buffer {
  return superPacketRecord(tcpv4Packet({ source, destination: B_SERVICE, payload: payloadBytes(payloadLength), checksum: 'partial' }), 1448);
}

describe('tunnel connection offloads', () => {
  test('two peers with offloads agree on gso and a 64 KiB super-packet reaches the far ring unchanged, header included', async () => {
    const { a, b } = await pair(true, true);
    assert.equal(a.conn.gso, true);
    assert.equal(b.conn.gso, true);
    const big = superRecord(65535 - 40);
    const small = superRecord(3000);
    await send(a, [big, small]);
    assert.deepEqual(b.drain(), [big, small]);
    assert.equal(b.counters[Counter.tunnelRxPackets], 2);
    assert.equal(b.counters[Counter.tunnelRxBytes], big.length + small.length - 2 * VNET_HDR_BYTES);
    assert.equal(a.counters[Counter.tunnelTxSoftwareSegments], 0);
  });

  test('a plain packet (trivial header) travels as a plain IP frame and arrives with a zero header', async () => {
    const { a, b } = await pair(true, true);
    const packet = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(100) });
    await send(a, [vnetRecord({ flags: 2 }, packet)]);
    const [record] = b.drain();
    assert.deepEqual(record, vnetRecord({}, packet));
  });

  test('the receive-only DATA_VALID flag is cleared before a record is forwarded', async () => {
    const { a, b } = await pair(true, true);
    const record = superRecord(5000);
    record[0] = 1 | 2;
    await send(a, [record]);
    const [got] = b.drain();
    assert.equal(got![0], 1);
  });

  test('to a peer without offloads a super-packet is cut in software into valid MTU-sized packets', async () => {
    const { a, b } = await pair(true, false);
    assert.equal(a.conn.gso, false, 'gso needs both sides');
    assert.equal(b.conn.gso, false);
    const payload = payloadBytes(20_000);
    const record = superPacketRecord(tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload, checksum: 'partial' }), 1448);
    await send(a, [record]);
    const packets = b.drain();
    assert.equal(packets.length, 14);
    assert.ok(packets.every((p) => p.length <= 1488 && tcpv4ChecksumsValid(p)));
    assert.deepEqual(Buffer.concat(packets.map((p) => p.subarray(40))), payload);
    assert.equal(a.counters[Counter.tunnelTxSoftwareSegments], 14);
  });

  test('to a peer without offloads a partial checksum is completed before sending', async () => {
    const { a, b } = await pair(true, false);
    const packet = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(333), checksum: 'partial' });
    await send(a, [vnetRecord({ flags: 1, csumStart: 20, csumOffset: 16 }, packet)]);
    const [got] = b.drain();
    assert.ok(tcpv4ChecksumsValid(got!));
    assert.deepEqual(got, tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(333) }));
  });

  test('from a peer without offloads plain frames reach an offload TUN ring with a zero header', async () => {
    const { a, b } = await pair(false, true);
    const packet = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(1000) });
    await send(a, [packet]);
    const [record] = b.drain();
    assert.ok(isTrivialVnetHeader(record!, 0));
    assert.deepEqual(record!.subarray(VNET_HDR_BYTES), packet);
  });

  test('inbound checks apply to the IP packet inside an offload frame', async () => {
    const { a, b } = await pair(true, true);
    await send(a, [superRecord(5000, '10.99.0.1')]);
    assert.deepEqual(b.drain(), []);
    assert.equal(b.counters[inboundDropCounter(InboundDrop.spoofedSource)], 1);
  });

  test('a local record the kernel should never produce (TCPV6 gso) is dropped as bad-offload, not sent', async () => {
    const { a, b } = await pair(true, true);
    const packet = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(3000), checksum: 'partial' });
    await send(a, [vnetRecord({ flags: 1, gsoType: 4, gsoSize: 1448, csumStart: 20, csumOffset: 16 }, packet)]);
    assert.equal(a.counters[Counter.badOffloadDrops], 1);
    assert.deepEqual(b.drain(), []);
    assert.equal(b.counters[FrameMalformedCounter['bad-offload']], 0);
  });
});

describe('tunnel connection keepalives', () => {
  /** One received chunk holding `count` framed keepalives. */
  function keepalives(count: number): Buffer {
    const chunk = Buffer.alloc(count * (2 + KEEPALIVE_BYTES));
    for (let i = 0; i < count; i++) {
      const at = i * (2 + KEEPALIVE_BYTES);
      chunk.writeUInt16BE(KEEPALIVE_BYTES, at);
      encodeKeepalive(chunk, at + 2, { seq: i, sentTimeMs: 1 });
    }
    return chunk;
  }

  function countWrites(socket: FakeSocket): number[] {
    const writes: number[] = [];
    const write = socket.write.bind(socket);
    socket.write = (chunk: Buffer) => {
      writes.push(chunk.length);
      return write(chunk);
    };
    return writes;
  }

  test('the acks of a chunk full of keepalives leave in one socket write', async () => {
    const { b } = await pair(false, false);
    const socket = b.conn.socket as unknown as FakeSocket;
    const writes = countWrites(socket);
    socket.emit('data', keepalives(1000));
    assert.equal(writes.length, 1);
    assert.equal(writes[0], 1000 * (2 + KEEPALIVE_BYTES));
  });

  test('above the queue bound only small packets get in, and above twice the bound none', async () => {
    const { a } = await pair(false, false);
    const socket = a.conn.socket as unknown as FakeSocket;
    const bound = DEFAULT_SHARD_TUNABLES.maxQueuedBytes;
    const small = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(SMALL_PACKET_BYTES - 40) });
    const large = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(SMALL_PACKET_BYTES - 39) });
    const offer = (queued: number): boolean[] => {
      Object.defineProperty(socket, 'writableLength', { value: queued, configurable: true });
      return [a.conn.enqueue(small, 0, small.length), a.conn.enqueue(large, 0, large.length)];
    };
    assert.deepEqual(offer(bound), [true, true], 'at the bound both pass');
    assert.deepEqual(offer(bound + 1), [true, false], 'above it the large one is dropped');
    assert.deepEqual(offer(2 * bound + 1), [false, false], 'above twice the bound both are');
  });

  test('a peer that does not read its acks gets none once the socket is backed up', async () => {
    const { b } = await pair(false, false);
    const socket = b.conn.socket as unknown as FakeSocket;
    const writes = countWrites(socket);
    Object.defineProperty(socket, 'writableLength', { value: DEFAULT_SHARD_TUNABLES.maxQueuedBytes + 1 });
    socket.emit('data', keepalives(1000));
    assert.deepEqual(writes, []);
    assert.equal(b.conn.state, 'established');
  });
});

describe('tunnel connection hello DNS extension', () => {
  test("a broker announcing its cluster DNS and one that sends the old hello interoperate: each side learns what the other sent", async () => {
    const dns = { dnsIp: parseIpv4('100.64.0.10')!, domain: 'cluster.local' };
    const { a, b } = await pair(false, false, dns, undefined);
    assert.deepEqual(b.conn.peerDns, dns);
    assert.equal(a.conn.peerDns, undefined, 'an old-style hello carries no DNS');
    const packet = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(10) });
    await send(a, [packet]);
    assert.deepEqual(b.drain(), [packet], 'the tunnel carries packets after the mixed hello');
  });
});

test("a dial's handshake deadline counts from the TCP connect, not from the dial; an unconnected dial has a deadline of its own", async () => {
  const limit = DEFAULT_SHARD_TUNABLES.handshakeTimeoutMs;
  const clock = new FakeClock(0);
  const queued = new FakeSocket();
  const a = side(queued, A, B, false, true, clock);
  // The dial waited (for CPU, in the shard's queue) almost the whole limit before connecting.
  await clock.advance(limit - 1);
  queued.emit('connect');
  await clock.advance(limit - 1);
  assert.deepEqual(a.owner.closedReasons, [], 'the handshake has its full time after connecting');
  await clock.advance(1);
  assert.deepEqual(a.owner.closedReasons, [`handshake not finished within ${limit} ms of connecting`]);

  const never = new FakeSocket();
  const b = side(never, A, B, false, true, clock);
  await clock.advance(limit);
  assert.deepEqual(b.owner.closedReasons, [`TCP connect not finished within ${limit} ms`]);
});

describe('tunnel connection queue delay (CoDel)', () => {
  test('bulk packets are dropped once the delay stood above target for an interval; small ones never; probes measure the path', async () => {
    const clock = new FakeClock(0);
    const tunables = { ...DEFAULT_SHARD_TUNABLES, queueDelayTargetMs: 5, queueDelayIntervalMs: 100 };
    const [sa, sb] = [new FakeSocket(), new FakeSocket()];
    sa.peer = sb;
    sb.peer = sa;
    const a = side(sa, A, B, false, true, clock, tunables);
    const b = side(sb, B, A, false, false, clock, tunables);
    a.conn.onSecure();
    b.conn.onSecure();
    await settle();
    a.conn.activate();
    const bulk = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(1000) });
    const ping = tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(20) });
    assert.ok(ping.length <= SMALL_PACKET_BYTES && bulk.length > SMALL_PACKET_BYTES);
    const offer = (packet: Buffer, ringDelayMs: number): void => {
      assert.ok(a.conn.enqueue(packet, 0, packet.length, ringDelayMs), 'a queue-delay drop is not backpressure');
      a.conn.flush();
    };

    offer(bulk, 2); // below target
    offer(bulk, 50); // above target: the interval starts
    await settle();
    assert.equal(a.counters[Counter.queueDelayDrops], 0);
    assert.equal(b.drain().length, 2);
    assert.notEqual(a.conn.rttMs, null, 'the first flush of an active tunnel carried a probe, and b acked it');

    await clock.advance(100);
    offer(bulk, 50); // a whole interval above target: dropped
    offer(ping, 50); // small: passes
    offer(bulk, 50); // the next drop is one interval away
    await settle();
    assert.equal(a.counters[Counter.queueDelayDrops], 1);
    assert.deepEqual(b.drain(), [ping, bulk]);

    await clock.advance(10);
    offer(bulk, 1); // below target: dropping ends
    await clock.advance(100);
    offer(bulk, 1);
    await settle();
    assert.equal(a.counters[Counter.queueDelayDrops], 1);
    assert.equal(b.drain().length, 2);
  });
});

test('a written batch buffer goes back to the shard pool once its write completed, and the next large batch reuses it', async () => {
  const pool = new BufferPool(4);
  const [sa, sb] = [new FakeSocket(), new FakeSocket()];
  sa.peer = sb;
  sb.peer = sa;
  const link: ShardLink = { linkId: 1, name: 'peer', endpointHost: 'peer.kubelink.lab', endpointPort: 8088, ...B, inbound: compileInboundPeer(B) };
  const tun = new TunRecorder(false);
  const a = new TunnelConnection(1, true, sa as unknown as tls.TLSSocket, new Owner(link), { ...A, published: NO_PUBLISHED }, tun, new Float64Array(COUNTERS_PER_BLOCK), TUNABLES, systemClock, false, pool);
  const b = side(sb, B, A, false, false);
  a.onSecure();
  b.conn.onSecure();
  await settle();
  const packets = Array.from({ length: 20 }, (_, i) => tcpv4Packet({ source: A_ADDRESS, destination: B_SERVICE, payload: payloadBytes(1400 + i) }));
  for (let round = 0; round < 3; round++) {
    for (const packet of packets) assert.ok(a.enqueue(packet, 0, packet.length));
    a.flush();
    await settle();
    assert.deepEqual(b.drain(), packets, `round ${round}: every packet arrived intact`);
  }
  assert.ok(pool.reused >= 2, `batch buffers reused: ${pool.reused}`);
});

describe('tunnel connection hello mesh DNS port extension', () => {
  test('a broker announcing its mesh DNS port and one without the extension interoperate: only the announcing side is learned', async () => {
    const [sa, sb] = [new FakeSocket(), new FakeSocket()];
    sa.peer = sb;
    sb.peer = sa;
    const a = side(sa, { ...A, meshDnsPort: 9053 }, B, false, true);
    const b = side(sb, B, A, false, false);
    a.conn.onSecure();
    b.conn.onSecure();
    await settle();
    assert.equal(a.owner.establishedCount, 1, a.owner.closedReasons.join());
    assert.equal(b.owner.establishedCount, 1, b.owner.closedReasons.join());
    assert.equal(b.conn.peerMeshDnsPort, 9053);
    assert.equal(a.conn.peerMeshDnsPort, undefined, 'an old-style hello announces no port');
    assert.equal(a.conn.badHelloExtensions, undefined);
    assert.equal(b.counters[FrameMalformedCounter['bad-hello-extension']], 0);
  });

  test('a hello with a malformed extension still establishes the tunnel; the extension is ignored, counted once and kept for the log', async () => {
    const sb = new FakeSocket();
    sb.peer = new FakeSocket();
    const b = side(sb, B, A, false, false);
    b.conn.onSecure();
    const hello = Buffer.alloc(MAX_HELLO_BYTES + 8);
    let n = encodeHello(hello, 0, { version: PROTOCOL_VERSION, capabilities: 0, clusterAddress: A.clusterAddress, maxFramePayload: 1500 });
    for (const byte of [HelloExtension.meshDnsPort, 3, 0x23, 0x5d, 0]) hello[n++] = byte; // a u16 port sent in 3 bytes
    const frame = Buffer.concat([Buffer.from([n >> 8, n & 0xff]), hello.subarray(0, n)]);
    sb.emit('data', frame);
    await settle();
    assert.equal(b.owner.establishedCount, 1, b.owner.closedReasons.join());
    assert.equal(b.conn.peerMeshDnsPort, undefined);
    assert.deepEqual(b.conn.badHelloExtensions, ['mesh DNS port extension: 3 bytes, 2 needed']);
    assert.equal(b.counters[FrameMalformedCounter['bad-hello-extension']], 1);
    // A second hello on the same connection is ignored: counted once per connection.
    sb.emit('data', frame);
    await settle();
    assert.equal(b.counters[FrameMalformedCounter['bad-hello-extension']], 1);
  });
});

