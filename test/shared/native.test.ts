// Real tests of the native addon (needs root): TUN behaviour runs in a network namespace
// made here; fd helpers, validation and worker-thread loading run in this process.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { loadNative, loadNativeFrom, nativeAddonPath, NATIVE_PATH_ENV, SocketOption } from '../../src/shared/native.js';
import { startWakeReader } from '../fixtures/native-wake-reader.js';
import { PAYLOAD_BYTES, PEER_ADDRESS, SINK_PORT, TUN_ADDRESS, type TunProbeReport } from '../fixtures/tun-probe.js';
import { WRITE_BYTES, WRITE_GSO_SIZE, type TunOffloadReport } from '../fixtures/tun-offload-probe.js';

const run = promisify(execFile);
const native = loadNative();
const prefix = `kl${randomBytes(2).toString('hex')}`;

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

function fdFlags(fd: number): number {
  const match = /^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  assert.ok(match, `no flags in fdinfo of fd ${fd}`);
  return parseInt(match[1]!, 8);
}

function fdFlagsOf(octal: string): number {
  return parseInt(octal, 8);
}

/** The 64-bit counter of an eventfd as readBatch reads it (8 bytes, little endian). */
function readCounter(fd: number): bigint {
  const buf = new Uint8Array(8);
  const lengths = new Int32Array(1);
  assert.equal(native.readBatch(fd, buf, 8, lengths, 1, 0, -1), 1);
  assert.equal(lengths[0], 8);
  return new DataView(buf.buffer).getBigUint64(0, true);
}

function counterBytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  return bytes;
}

/** Runs body with `count` fresh eventfds and closes them afterwards, even on failure. */
async function withEventFds(count: number, body: (fds: number[]) => unknown): Promise<void> {
  const fds = Array.from({ length: count }, () => native.createEventFd());
  try {
    await body(fds);
  } finally {
    for (const fd of fds) native.close(fd);
  }
}

describe('TUN devices in a network namespace', () => {
  const namespace = `${prefix}ns`;
  const device = `${prefix}t`;
  let report: TunProbeReport;

  before(async () => {
    execFileSync('ip', ['netns', 'add', namespace]);
    // IPv4 only, so the idle TUN stays idle (no router solicitations).
    const ipv6Off = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];
    execFileSync('ip', ['netns', 'exec', namespace, 'sysctl', '-q', '-w', ...ipv6Off]);
    execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    const probe = new URL('../fixtures/tun-probe.js', import.meta.url).href;
    const script = 'import(process.argv[1]).then((probe) => probe.main(process.argv[2]));';
    const { stdout } = await run('ip', ['netns', 'exec', namespace, process.execPath, '-e', script, probe, device], {
      timeout: 60_000,
    });
    report = JSON.parse(stdout) as TunProbeReport;
  });

  after(() => {
    // Deleting the namespace also removes the TUN devices the probe left behind.
    spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  });

  test('openTun returns the kernel name and a non-blocking close-on-exec fd', () => {
    assert.equal(report.deviceName, device);
    const flags = fdFlagsOf(report.fdFlagsOctal);
    assert.ok(flags & O_NONBLOCK, `flags ${report.fdFlagsOctal} lack O_NONBLOCK`);
    assert.ok(flags & O_CLOEXEC, `flags ${report.fdFlagsOctal} lack O_CLOEXEC`);
  });

  test('readBatch returns packets routed into the TUN with their lengths and IPv4 headers', () => {
    assert.deepEqual(
      report.captured.map((packet) => packet.length),
      PAYLOAD_BYTES.map((bytes) => bytes + 28),
    );
    for (const packet of report.captured) {
      assert.equal(packet.version, 4);
      assert.equal(packet.headerBytes, 20);
      assert.equal(packet.totalLength, packet.length);
      assert.equal(packet.protocol, 17);
      assert.equal(packet.source, TUN_ADDRESS);
      assert.equal(packet.destination, PEER_ADDRESS);
      assert.equal(packet.destinationPort, SINK_PORT);
    }
  });

  test('readBatch returns 0 when the TUN stays idle until timeoutMs', () => {
    assert.equal(report.idleRead, 0);
  });

  test('writeBatch delivers IPv4 packets to the namespace and skips one the kernel rejects', () => {
    assert.equal(report.written, 2);
    assert.deepEqual(report.delivered, ['first', 'second']);
  });

  test('readBatch in a Worker blocked on the idle TUN returns -1 after signalEventFd', () => {
    assert.equal(report.wakeResult, -1);
  });

  test('openTun with multiQueue opens several queues of one device, each readable from its own Worker', () => {
    assert.deepEqual(report.multiQueue.names, [`${device}q`, `${device}q`]);
    assert.notEqual(report.multiQueue.fds[0], report.multiQueue.fds[1]);
    assert.deepEqual(report.multiQueue.wakeResults, [-1, -1]);
  });

  test('openTun of a device another fd holds fails with EBUSY and says why', () => {
    assert.equal(report.busyError?.code, 'EBUSY');
    assert.match(report.busyError.message, new RegExp(`TUN device ${device} is busy`));
  });

  test('openTun of a name the kernel refuses fails with EINVAL naming the device', () => {
    assert.equal(report.invalidNameError?.code, 'EINVAL');
    assert.match(report.invalidNameError.message, /bad\/name/);
  });
});

describe('TUN offloads (virtio-net header, TSO) in a network namespace', () => {
  const namespace = `${prefix}no`;
  const device = `${prefix}o`;
  let report: TunOffloadReport;

  before(async () => {
    execFileSync('ip', ['netns', 'add', namespace]);
    execFileSync('ip', ['netns', 'exec', namespace, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    const probe = new URL('../fixtures/tun-offload-probe.js', import.meta.url).href;
    const script = 'import(process.argv[1]).then((probe) => probe.main(process.argv[2]));';
    const { stdout } = await run('ip', ['netns', 'exec', namespace, process.execPath, '-e', script, probe, device], { timeout: 60_000 });
    report = JSON.parse(stdout) as TunOffloadReport;
  });

  after(() => {
    spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
  });

  test('setTunOffload on a TUN opened without vnetHdr fails with EINVAL and says why', () => {
    assert.equal(report.offloadWithoutVnetHdr?.code, 'EINVAL');
    assert.match(report.offloadWithoutVnetHdr.message, /opened without vnetHdr/);
  });

  test('a local TCP sender through the TUN is read as TCPV4 super-packets larger than the MTU, with a partial checksum at the TCP header', () => {
    const supers = report.read.filter((r) => r.header.gsoType === 1);
    assert.ok(supers.length > 0, `no super-packet among ${JSON.stringify(report.read.map((r) => [r.header, r.packetLength]))}`);
    for (const r of supers) {
      assert.ok(r.packetLength > report.mtu, `super-packet of ${r.packetLength} bytes`);
      assert.equal(r.header.gsoSize, 1460, 'gso_size is the MSS the far end announced');
      assert.equal(r.header.flags & 1, 1, 'NEEDS_CSUM');
      assert.equal(r.header.csumStart, 20);
      assert.equal(r.header.csumOffset, 16);
    }
  });

  test('completeChecksum finishes the kernel\'s partial checksums, and Tcpv4Segmenter cuts its super-packets into valid segments carrying the sent bytes', () => {
    assert.ok(report.read.length > 0);
    for (const r of report.read) assert.ok(r.checksumCompletes, `record at seq ${r.seq}`);
    for (const r of report.read.filter((x) => x.header.gsoType === 1)) {
      assert.equal(r.segments, Math.ceil(r.payloadLength / r.header.gsoSize));
      assert.ok(r.segmentsValid, `segments of the record at seq ${r.seq}`);
    }
  });

  test('a TCPV4 super-packet written with a virtio-net header reaches a local listener whole', () => {
    assert.equal(report.superPacketWritten, 1);
    assert.ok(WRITE_BYTES > WRITE_GSO_SIZE * 2);
    assert.equal(report.receivedAfterSuperPacket, WRITE_BYTES);
  });

  test('segments cut by Tcpv4Segmenter and written with a zero header pass the kernel\'s checksum checks', () => {
    assert.equal(report.segmentsWritten, Math.ceil(WRITE_BYTES / WRITE_GSO_SIZE));
    assert.equal(report.receivedAfterSegments, 2 * WRITE_BYTES);
    assert.equal(report.receivedIntact, true);
  });
});

describe('openTun argument checks', () => {
  test('openTun of a name longer than 15 bytes throws a RangeError naming the limit', () => {
    assert.throws(() => native.openTun('a-much-too-long-device-name'), {
      name: 'RangeError',
      code: 'ENAMETOOLONG',
      message: /"a-much-too-long-device-name" is 27 bytes long; Linux allows at most 15/,
    });
  });

  test('openTun rejects a non-string name and a non-boolean multiQueue or vnetHdr', () => {
    assert.throws(() => native.openTun(7 as unknown as string), { name: 'TypeError', message: /name must be a string/ });
    assert.throws(() => native.openTun('x', { multiQueue: 1 as unknown as boolean }), {
      name: 'TypeError',
      message: /options.multiQueue must be a boolean/,
    });
    assert.throws(() => native.openTun('x', { vnetHdr: 'yes' as unknown as boolean }), {
      name: 'TypeError',
      message: /options.vnetHdr must be a boolean/,
    });
  });

  test('setTunOffload checks its flags and refuses an fd that is not a TUN queue', () =>
    withEventFds(1, ([fd]) => {
      assert.throws(() => native.setTunOffload(fd!, 0x80), { name: 'RangeError', message: /flags must be in \[0, 127\]/ });
      assert.throws(() => native.setTunOffload(fd!, 1), { code: 'ENOTTY', syscall: 'ioctl', message: /not an attached TUN queue/ });
    }));
});

describe('readBatch and writeBatch on eventfds', () => {
  test('readBatch fills slots at the byteOffset of SharedArrayBuffer-backed views', () =>
    withEventFds(1, ([fd]) => {
      native.signalEventFd(fd!);
      native.signalEventFd(fd!);
      const shared = new SharedArrayBuffer(64);
      const buf = new Uint8Array(shared, 16, 16).fill(0xee);
      const lengths = new Int32Array(shared, 40, 2).fill(-7);
      assert.equal(native.readBatch(fd!, buf, 8, lengths, 2, 0, -1), 1);
      assert.deepEqual(Array.from(lengths), [8, -7]);
      assert.deepEqual(Array.from(new Uint8Array(shared, 8, 8)), [0, 0, 0, 0, 0, 0, 0, 0]);
      assert.deepEqual(Array.from(buf.subarray(0, 9)), [2, 0, 0, 0, 0, 0, 0, 0, 0xee]);
    }));

  test('writeBatch writes each packet at its offset and skips one the fd rejects (EINVAL)', () =>
    withEventFds(1, ([fd]) => {
      const buf = new Uint8Array(40);
      buf.set(counterBytes(3n), 5);
      buf.set(counterBytes(4n), 29);
      // An eventfd accepts only 8-byte writes: the 4-byte one in the middle is rejected.
      assert.equal(native.writeBatch(fd!, buf, Int32Array.of(5, 0, 29), Int32Array.of(8, 4, 8), 3), 2);
      assert.equal(readCounter(fd!), 7n);
    }));

  test('writeBatch with a prefix writes prefix + packet for each packet (writev)', () => {
    const file = path.join(tmpdir(), `kubelink-writev-${process.pid}`);
    const fd = openSync(file, 'w');
    try {
      const buf = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(native.writeBatch(fd, buf, Int32Array.of(1, 6), Int32Array.of(3, 2), 2, Uint8Array.from([0xaa, 0xbb])), 2);
      assert.deepEqual([...readFileSync(file)], [0xaa, 0xbb, 1, 2, 3, 0xaa, 0xbb, 6, 7]);
      assert.throws(() => native.writeBatch(fd, buf, Int32Array.of(0), Int32Array.of(1), 1, new Int32Array(1) as unknown as Uint8Array), TypeError);
    } finally {
      closeSync(fd);
      rmSync(file, { force: true });
    }
  });

  test('writeBatch drops a packet after one bounded wait when the fd stays full', () =>
    withEventFds(1, ([fd]) => {
      const buf = new Uint8Array(16);
      buf.set(counterBytes(0xffff_ffff_ffff_fffen), 0); // the largest counter an eventfd holds
      buf.set(counterBytes(1n), 8); // no room left: EAGAIN
      assert.equal(native.writeBatch(fd!, buf, Int32Array.of(0, 8, 8), Int32Array.of(8, 8, 8), 3), 1);
      assert.equal(readCounter(fd!), 0xffff_ffff_ffff_fffen);
    }));

  test('readBatch returns 0 after timeoutMs on an idle fd', () =>
    withEventFds(1, ([fd]) => {
      assert.equal(native.readBatch(fd!, new Uint8Array(8), 8, new Int32Array(1), 1, 20, -1), 0);
    }));

  test('readBatch returns -1 and drains wakeFd when it is already signalled', () =>
    withEventFds(2, ([fd, wakeFd]) => {
      native.signalEventFd(wakeFd!);
      assert.equal(native.readBatch(fd!, new Uint8Array(8), 8, new Int32Array(1), 1, 10_000, wakeFd!), -1);
      assert.equal(native.readBatch(wakeFd!, new Uint8Array(8), 8, new Int32Array(1), 1, 0, -1), 0);
    }));

  test('readBatch and writeBatch on a closed fd throw EBADF with the syscall', () => {
    const fd = native.createEventFd();
    native.close(fd);
    assert.throws(() => native.readBatch(fd, new Uint8Array(8), 8, new Int32Array(1), 1, 0, -1), {
      code: 'EBADF',
      syscall: 'read',
      errno: -9,
    });
    assert.throws(() => native.writeBatch(fd, new Uint8Array(8), Int32Array.of(0), Int32Array.of(8), 1), {
      code: 'EBADF',
      syscall: 'write',
    });
  });
});

describe('readBatch and writeBatch argument checks', () => {
  const fd = 0; // never reached: validation comes first
  const buf = new Uint8Array(64);
  const lengths = new Int32Array(4);

  test('readBatch names the argument that is not an integer or not the right TypedArray', () => {
    assert.throws(() => native.readBatch(1.5, buf, 16, lengths, 4, 0, -1), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: /fd must be an integer/,
    });
    assert.throws(() => native.readBatch(fd, new Int32Array(16) as unknown as Uint8Array, 16, lengths, 4, 0, -1), {
      name: 'TypeError',
      message: /buf must be a Uint8Array, got Int32Array/,
    });
    assert.throws(() => native.readBatch(fd, buf, 16, new Uint32Array(4) as unknown as Int32Array, 4, 0, -1), {
      name: 'TypeError',
      message: /lengths must be an Int32Array, got Uint32Array/,
    });
    assert.throws(() => native.readBatch(fd, buf, 16, lengths, 4, '0' as unknown as number, -1), {
      name: 'TypeError',
      message: /timeoutMs must be an integer, got string/,
    });
    assert.throws(() => (native.readBatch as (...args: unknown[]) => number)(fd, buf, 16), {
      name: 'TypeError',
      message: /expected at least 7 arguments, got 3/,
    });
  });

  test('readBatch throws RangeError when the slots do not fit buf or lengths', () => {
    assert.throws(() => native.readBatch(fd, buf, 32, lengths, 4, 0, -1), {
      name: 'RangeError',
      code: 'ERR_OUT_OF_RANGE',
      message: /buf is too small: slotSize \(32\) \* maxPackets \(4\) exceeds buf.byteLength \(64\)/,
    });
    assert.throws(() => native.readBatch(fd, buf, 8, lengths, 8, 0, -1), {
      name: 'RangeError',
      message: /lengths is too short: lengths.length \(4\) < maxPackets \(8\)/,
    });
    assert.throws(() => native.readBatch(fd, buf, 0, lengths, 4, 0, -1), { name: 'RangeError', message: /slotSize must be in \[1,/ });
    assert.throws(() => native.readBatch(fd, buf, 16, lengths, 4, -2, -1), { name: 'RangeError', message: /timeoutMs must be in \[-1,/ });
    assert.throws(() => native.readBatch(fd, buf, 16, lengths, 4, 0, -2), { name: 'RangeError', message: /wakeFd must be in \[-1,/ });
  });

  test('writeBatch throws RangeError for a packet outside buf or a count beyond the arrays', () => {
    assert.throws(() => native.writeBatch(fd, buf, Int32Array.of(0, 60), Int32Array.of(8, 8), 2), {
      name: 'RangeError',
      message: /packet 1 \(offsets\[1\] = 60, lengths\[1\] = 8\) lies outside buf \(byteLength 64\)/,
    });
    assert.throws(() => native.writeBatch(fd, buf, Int32Array.of(-1), Int32Array.of(8), 1), { name: 'RangeError', message: /offsets\[0\] = -1/ });
    assert.throws(() => native.writeBatch(fd, buf, Int32Array.of(0), Int32Array.of(8), 2), {
      name: 'RangeError',
      message: /count \(2\) exceeds offsets.length \(1\)/,
    });
  });
});

describe('fd helpers', () => {
  test('createEventFd and dup return non-blocking close-on-exec fds', () =>
    withEventFds(1, ([fd]) => {
      const copy = native.dup(fd!);
      try {
        assert.notEqual(copy, fd);
        for (const each of [fd!, copy]) {
          assert.ok(fdFlags(each) & O_NONBLOCK);
          assert.ok(fdFlags(each) & O_CLOEXEC);
        }
      } finally {
        native.close(copy);
      }
    }));

  test('a dup of an eventfd keeps working after the original is closed', () => {
    const fd = native.createEventFd();
    const copy = native.dup(fd);
    native.close(fd);
    try {
      native.signalEventFd(copy);
      assert.equal(readCounter(copy), 1n);
    } finally {
      native.close(copy);
    }
  });

  test('a dup of an accepted TCP socket carries the connection after the original socket is destroyed', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    try {
      const [accepted] = (await once(server, 'connection')) as [net.Socket];
      const handle = (accepted as unknown as { _handle: { fd: number } })._handle;
      const copy = native.dup(handle.fd);
      accepted.destroy();
      await once(accepted, 'close');

      const handedOver = new net.Socket({ fd: copy, readable: true, writable: true });
      client.write('ping');
      const [data] = (await once(handedOver, 'data')) as [Buffer];
      assert.equal(data.toString(), 'ping');
      handedOver.end('pong');
      const [reply] = (await once(client, 'data')) as [Buffer];
      assert.equal(reply.toString(), 'pong');
      handedOver.destroy();
    } finally {
      client.destroy();
      server.close();
    }
  });

  test('setNonBlocking and close throw EBADF for an fd that is not open', () => {
    const fd = native.createEventFd();
    native.close(fd);
    assert.throws(() => native.setNonBlocking(fd), { code: 'EBADF', syscall: 'fcntl' });
    assert.throws(() => native.close(fd), { code: 'EBADF', syscall: 'close' });
  });
});

describe('socket options', () => {
  test('setSocketOption sets TCP_NOTSENT_LOWAT on the TCP socket under a TLS connection, and refuses a non-socket', async () => {
    const { tlsSocketFd, boundUnsentBytes } = await import('../../src/workers/tcp-unsent-bound.js');
    const server = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      await once(client, 'connect');
      const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
      native.setSocketOption(fd, SocketOption.IPPROTO_TCP, SocketOption.TCP_NOTSENT_LOWAT, 128 * 1024);
      native.setSocketOption(fd, SocketOption.SOL_SOCKET, SocketOption.SO_SNDBUF, 256 * 1024);
      // A TLSSocket over it (never handshaken) exposes the same descriptor.
      const wrapped = new tls.TLSSocket(client);
      assert.equal(tlsSocketFd(wrapped), fd);
      assert.equal(boundUnsentBytes(wrapped, 128 * 1024), true);
      assert.equal(tlsSocketFd(new tls.TLSSocket(new net.Socket())), -1, 'no descriptor before connect');
    } finally {
      client.destroy();
      server.close();
    }
    await withEventFds(1, ([fd]) => {
      assert.throws(() => native.setSocketOption(fd!, SocketOption.IPPROTO_TCP, SocketOption.TCP_NOTSENT_LOWAT, 1), { code: 'ENOTSOCK', syscall: 'setsockopt' });
    });
    assert.throws(() => native.setSocketOption(0, -1, 0, 0), RangeError);
  });
});

describe('worker threads', () => {
  test('three Workers load the addon at once and each returns -1 from readBatch after signalEventFd', () =>
    withEventFds(6, async (fds) => {
      const [idle, wake] = [fds.slice(0, 3), fds.slice(3)];
      const readers = idle.map((fd, i) => startWakeReader({ fd, wakeFd: wake[i]!, timeoutMs: 30_000 }));
      await Promise.all(readers.map((reader) => reader.reading));
      for (const fd of wake) native.signalEventFd(fd);
      assert.deepEqual(await Promise.all(readers.map((reader) => reader.result)), [-1, -1, -1]);
    }));

  test('setThreadName names the calling thread only, cut to 15 bytes, as /proc shows it', async () => {
    const names = (): string[] => readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
    const source = `const { parentPort, workerData } = require('node:worker_threads');
      require(workerData).setThreadName('kl-shard-12345678');
      parentPort.postMessage('named');
      setTimeout(() => {}, 60_000);`;
    const mainName = readFileSync('/proc/thread-self/comm', 'utf8').trim();
    const worker = new Worker(source, { eval: true, workerData: nativeAddonPath() });
    try {
      await once(worker, 'message');
      assert.ok(names().includes('kl-shard-123456'), `threads: ${names().join(', ')}`);
      assert.equal(readFileSync('/proc/thread-self/comm', 'utf8').trim(), mainName, 'the calling thread keeps its name');
    } finally {
      await worker.terminate();
    }
    assert.throws(() => native.setThreadName(42 as unknown as string), TypeError);
  });
});

describe('loader', () => {
  test('nativeAddonPath prefers KUBELINK_NATIVE and otherwise points into native/build/Release', () => {
    assert.equal(nativeAddonPath({ [NATIVE_PATH_ENV]: '/opt/kubelink.node' }), '/opt/kubelink.node');
    assert.match(nativeAddonPath({}), /\/native\/build\/Release\/kubelink\.node$/);
  });

  test('loadNativeFrom a missing file says the addon is not built and how to build it', () => {
    assert.throws(() => loadNativeFrom('/nonexistent/kubelink.node'), {
      message: /native addon is not built: \/nonexistent\/kubelink.node does not exist; run `npm install`/,
    });
  });

  test('loadNative returns the same module on every call', () => {
    assert.equal(loadNative(), native);
  });
});
