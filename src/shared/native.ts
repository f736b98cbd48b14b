// Typed loader for the native addon (native/): TUN devices, batched fd I/O, dup and
// eventfds. Every function is synchronous and may block (readBatch waits in poll()),
// so the data path calls them from dedicated worker threads, not the main event loop.
// The addon is context-aware: each worker_thread may load it.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface OpenTunOptions {
  /** Open one queue of a multi-queue device (IFF_MULTI_QUEUE); every opener must agree. Default false. */
  multiQueue?: boolean;
  /**
   * IFF_VNET_HDR: every read returns, and every write must start with, a 10-byte
   * struct virtio_net_hdr (fields little endian, see gso-header.ts) before the IP packet.
   * Needed for setTunOffload. Default false.
   */
  vnetHdr?: boolean;
}

/** TUNSETOFFLOAD bits (linux/if_tun.h) for setTunOffload. */
export const TunOffload = {
  /** The kernel may hand out packets whose checksum is still to be completed (NEEDS_CSUM). */
  csum: 0x01,
  /** TCP over IPv4 super-packets (gso_type TCPV4); needs csum. */
  tso4: 0x02,
  /** TCP over IPv6 super-packets; needs csum. */
  tso6: 0x04,
  /** Super-packets of flows with ECN (gso_type | ECN); needs tso4 or tso6. */
  tsoEcn: 0x08,
} as const;

export interface TunHandle {
  /** Non-blocking, close-on-exec fd of the TUN queue. */
  fd: number;
  /** The kernel's name for the device (it fills in `tun%d` patterns and empty names). */
  name: string;
}

/**
 * Errors thrown for failed system calls carry `code` (errno name, e.g. 'EPERM'),
 * `errno` (negative, as in Node) and `syscall`; argument errors are TypeError
 * (code 'ERR_INVALID_ARG_TYPE') or RangeError (code 'ERR_OUT_OF_RANGE', 'ENAMETOOLONG').
 */
export interface NativeAddon {
  /** Opens /dev/net/tun as an IPv4/IPv6 TUN without packet-info header (IFF_TUN | IFF_NO_PI). */
  openTun(name: string, options?: OpenTunOptions): TunHandle;
  /**
   * TUNSETOFFLOAD: which offloads (TunOffload bits) the kernel may use on reads from this
   * device; writes with a virtio_net_hdr may always carry them. Throws EINVAL when the
   * queue was opened without vnetHdr.
   */
  setTunOffload(fd: number, flags: number): void;
  setNonBlocking(fd: number): void;
  /**
   * Reads up to `maxPackets` packets from non-blocking `fd`: packet i lands at
   * `buf[i * slotSize]` (at most slotSize bytes), its length in `lengths[i]`.
   * When nothing is readable it waits in poll() on fd and `wakeFd` (-1: none) for up to
   * `timeoutMs` (-1: forever). Returns the count, 0 on timeout, or -1 when woken through
   * wakeFd (the eventfd is drained; use one wakeFd per reader thread).
   * `buf` and `lengths` may live in a SharedArrayBuffer.
   */
  readBatch(
    fd: number,
    buf: Uint8Array,
    slotSize: number,
    lengths: Int32Array,
    maxPackets: number,
    timeoutMs: number,
    wakeFd: number,
  ): number;
  /**
   * Writes packets `buf[offsets[i], offsets[i] + lengths[i])` for i < count; returns how
   * many were written. A full fd is waited for once per call (about 10 ms), then packets
   * that still do not fit are dropped; packets the kernel rejects (EINVAL, EIO) are skipped.
   * With `prefix`, each packet is written as prefix + packet in one writev().
   */
  writeBatch(fd: number, buf: Uint8Array, offsets: Int32Array, lengths: Int32Array, count: number, prefix?: Uint8Array): number;
  /** A close-on-exec duplicate (F_DUPFD_CLOEXEC): hand a socket to another event loop. */
  dup(fd: number): number;
  close(fd: number): void;
  /** A non-blocking, close-on-exec eventfd for waking a thread blocked in readBatch. */
  createEventFd(): number;
  signalEventFd(fd: number): void;
  /**
   * A NETLINK_ROUTE socket (close-on-exec, 4 MiB receive buffer, capped and extended
   * acks, strict dump checking), created inside the network namespace at `netnsPath`
   * (e.g. /run/netns/NAME) when given; the calling thread's namespace is never changed.
   */
  netlinkOpen(netnsPath?: string): number;
  /**
   * Sends the netlink messages in `request` (consecutive sequence numbers, each with
   * NLM_F_ACK or a dump) in a few batched sendmsg() calls on the libuv thread pool and
   * resolves with every reply datagram concatenated, once each request has its final
   * answer (its NLMSG_ERROR, or a dump's NLMSG_DONE). Rejects with a system error
   * (ETIMEDOUT after `timeoutMs` without a reply, ENOBUFS when replies were lost).
   * One exchange at a time per socket.
   */
  netlinkExchange(fd: number, request: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /**
   * Names the calling OS thread (its first 15 bytes; prctl PR_SET_NAME), so per-thread CPU
   * in /proc/<pid>/task/<tid>/stat can be told apart (Node 20 calls every thread "node",
   * Node 24 every piscina worker the same).
   */
  setThreadName(name: string): void;
  /** setsockopt(fd, level, option, &value, sizeof(int)); see SocketOption. */
  setSocketOption(fd: number, level: number, option: number, value: number): void;
}

/** setSocketOption levels and options (Linux values). */
export const SocketOption = {
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  IPPROTO_TCP: 6,
  /** Unsent bytes above which the socket stops being writable (poll/epoll): a bound on the kernel's part of a queue. */
  TCP_NOTSENT_LOWAT: 25,
} as const;

/** Environment variable that overrides where the addon is loaded from. */
export const NATIVE_PATH_ENV = 'KUBELINK_NATIVE';

/**
 * Where the addon lives: $KUBELINK_NATIVE, else native/build/Release/kubelink.node in
 * the repository (this module runs as dist<suffix>/src/shared/native.js, three levels
 * below the repository root).
 */
export function nativeAddonPath(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[NATIVE_PATH_ENV];
  if (override !== undefined && override !== '') return override;
  return fileURLToPath(new URL('../../../native/build/Release/kubelink.node', import.meta.url));
}

/** Loads the addon from `file` (Node caches it per path and thread). */
export function loadNativeFrom(file: string): NativeAddon {
  if (!existsSync(file)) {
    throw new Error(
      `the native addon is not built: ${file} does not exist; run \`npm install\` ` +
        `(or \`npm run install\`) in the repository root, or set ${NATIVE_PATH_ENV}`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(file) as NativeAddon;
  } catch (error) {
    throw new Error(`cannot load the native addon ${file}`, { cause: error });
  }
}

let loaded: NativeAddon | undefined;

/** The addon at nativeAddonPath(), loaded once per thread. */
export function loadNative(): NativeAddon {
  loaded ??= loadNativeFrom(nativeAddonPath());
  return loaded;
}
