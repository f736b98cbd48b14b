// The TUN reader thread: read a batch from the TUN -> look up each destination's link ->
// append to the ring of the shard that owns the link's tunnel -> publish each touched ring
// once per batch (which wakes its shard only if it was idle).
// With vnetHdr each packet read is [virtio_net_hdr][IP packet], possibly a TCP
// super-packet of up to 64 KiB; the record goes to the ring whole, header included.
import { workerData } from 'node:worker_threads';
import { loadNative } from '../shared/native.js';
import { SpscRing } from '../shared/spsc-ring.js';
import { NO_LINK, NO_SHARD, RouteTable } from '../shared/route-table.js';
import { IPV4_MIN_HEADER_BYTES, ipv4Destination, ipVersion } from '../shared/ip-packet.js';
import { VNET_HDR_BYTES, gsoSegmentCount, gsoType } from '../shared/gso-header.js';
import { Counter, CounterBlocks } from '../shared/counters.js';
import { TUN_CONTROL_STOP, type TunReaderInit } from '../shared/tun-threads.js';
import { DemandWords } from '../shared/demand-words.js';

const init = workerData as TunReaderInit;
const native = loadNative();
native.setThreadName('kl-tun-reader');
const control = new Int32Array(init.control);
const routes = new RouteTable(init.routeTable);
const demand = new DemandWords(init.demand);
const rings = init.toTunnelRings.map((sab) => new SpscRing(sab));
const touched = new Uint8Array(rings.length);
const counters = new CounterBlocks(init.counters).block(init.counterBlock);
const buffer = new Uint8Array(init.slotSize * init.batchPackets);
const lengths = new Int32Array(init.batchPackets);
/** Bytes in front of each IP packet. */
const headerBytes = init.vnetHdr ? VNET_HDR_BYTES : 0;

function classify(count: number): void {
  for (let i = 0; i < count; i++) {
    const offset = i * init.slotSize;
    const length = lengths[i]!;
    const ipOffset = offset + headerBytes;
    const ipLength = length - headerBytes;
    counters[Counter.tunRxPackets]++;
    counters[Counter.tunRxBytes] += ipLength;
    // Only IPv4 is routed (service CIDRs and cluster addresses are IPv4).
    if (ipLength < IPV4_MIN_HEADER_BYTES || ipVersion(buffer, ipOffset) !== 4) {
      counters[Counter.noRouteDrops]++;
      continue;
    }
    if (headerBytes !== 0 && gsoType(buffer, offset) !== 0) {
      counters[Counter.tunRxOffloadPackets]++;
      counters[Counter.tunRxOffloadSegments] += gsoSegmentCount(buffer, offset, length);
    }
    const linkId = routes.lookup(ipv4Destination(buffer, ipOffset));
    if (linkId === NO_LINK) {
      counters[Counter.noRouteDrops]++;
      continue;
    }
    const shard = routes.shardOf(linkId);
    if (shard === NO_SHARD) {
      counters[Counter.noTunnelDrops]++;
      demand.mark(linkId);
      continue;
    }
    // A full ring counts its own drop (like a NIC queue) and never blocks this thread.
    rings[shard]!.write(buffer, offset, length, linkId);
    touched[shard] = 1;
  }
  for (let s = 0; s < rings.length; s++) {
    if (touched[s] === 1) {
      touched[s] = 0;
      rings[s]!.publish();
    }
  }
}

while (Atomics.load(control, TUN_CONTROL_STOP) === 0) {
  let count: number;
  try {
    count = native.readBatch(init.tunFd, buffer, init.slotSize, lengths, init.batchPackets, init.idleWaitMs, init.wakeFd);
  } catch (err) {
    // The device is gone (or its descriptor closed): nothing more can be read. The main
    // thread sees this thread exit with the error.
    throw new Error('TUN read failed', { cause: err });
  }
  if (count > 0) classify(count);
}
