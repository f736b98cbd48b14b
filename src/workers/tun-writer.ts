// The TUN writer thread: for each shard's ring, take the waiting packets without copying
// (readHeld), write them to the TUN in one batch straight from the ring, release the ring.
// When a whole pass found nothing, sleep on the doorbell shared by all rings; its value is
// loaded before the pass, so a packet published during the pass is never missed.
// With vnetHdr each record is [virtio_net_hdr][IP packet] (a zero header for a plain packet,
// or a super-packet the kernel segments or passes on as it is).
import { workerData } from 'node:worker_threads';
import { loadNative } from '../shared/native.js';
import { SpscRing, type RecordHandler } from '../shared/spsc-ring.js';
import { Counter, CounterBlocks } from '../shared/counters.js';
import { VNET_HDR_BYTES, gsoType } from '../shared/gso-header.js';
import { TUN_CONTROL_STOP, type TunWriterInit } from '../shared/tun-threads.js';

const init = workerData as TunWriterInit;
const native = loadNative();
native.setThreadName('kl-tun-writer');
const control = new Int32Array(init.control);
const signal = new Int32Array(init.signal);
const rings = init.toTunRings.map((sab) => new SpscRing(sab, { signal, signalIndex: 0 }));
const counters = new CounterBlocks(init.counters).block(init.counterBlock);
const offsets = new Int32Array(init.batchPackets);
const lengths = new Int32Array(init.batchPackets);
/** Bytes in front of each IP packet. */
const headerBytes = init.vnetHdr ? VNET_HDR_BYTES : 0;
let held = 0;
let heldSuperPackets = 0;
let heldData: Uint8Array | null = null;

const collect: RecordHandler = {
  onRecord(data: Uint8Array, offset: number, length: number): void {
    heldData = data;
    offsets[held] = offset;
    lengths[held] = length;
    held++;
    if (headerBytes !== 0 && gsoType(data, offset) !== 0) heldSuperPackets++;
  },
};

/** Writes one batch from a ring and releases it; returns how many records it took. */
function drain(ring: SpscRing): number {
  held = heldSuperPackets = 0;
  const taken = ring.readHeld(collect, init.batchPackets);
  if (taken > 0 && heldData !== null) {
    const written = native.writeBatch(init.tunFd, heldData, offsets, lengths, taken);
    counters[Counter.tunTxPackets] += written;
    counters[Counter.tunWriteErrors] += taken - written;
    // Handed to the TUN; a refused one among them shows in tunWriteErrors.
    counters[Counter.tunTxOffloadPackets] += heldSuperPackets;
    for (let i = 0; i < taken; i++) counters[Counter.tunTxBytes] += lengths[i]! - headerBytes;
  }
  ring.release();
  return taken;
}

while (Atomics.load(control, TUN_CONTROL_STOP) === 0) {
  const doorbell = Atomics.load(signal, 0);
  let taken = 0;
  for (const ring of rings) {
    let n: number;
    do {
      n = drain(ring);
      taken += n;
    } while (n === init.batchPackets);
  }
  if (taken === 0) Atomics.wait(signal, 0, doorbell, init.idleWaitMs);
}
