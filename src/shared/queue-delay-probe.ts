// The queueing delay of a tunnel's whole forward path, from keepalive round trips.
//
// What a saturated tunnel queues sits in several places the sending shard cannot see
// into: Node's write queue, the kernel's unsent and in-flight bytes, the peer's receive
// buffer while its shard is busy. A keepalive appended behind the data waits in all of
// them, and the peer acks it once its shard decoded everything before it. So the round
// trip of such a probe minus the path's smallest round trip is the queueing delay the
// data written just before it met. Probes ride on writes the tunnel makes anyway (at most
// one in flight, one per `intervalMs`): no timer per tunnel, 13 bytes per probe.

/** Smallest round trips are remembered over two windows of this length (the path may change). */
const MIN_RTT_WINDOW_MS = 10_000;
/** A probe whose ack did not come (the peer skips acks while its queue is full) is given up after this. */
const PROBE_GIVE_UP_MS = 1_000;

export class QueueDelayProbe {
  private probeSentAt = -1;
  private lastProbeAt = -Infinity;
  private minCurrent = Infinity;
  private minPrevious = Infinity;
  private windowStart = -Infinity;
  /** Latest round trip minus the smallest seen, ms (0 before the first ack). */
  excessMs = 0;

  constructor(private readonly intervalMs: number) {}

  /** True when a probe should go out now (and notes it as sent). */
  probeDue(nowMs: number): boolean {
    if (this.probeSentAt >= 0 && nowMs - this.probeSentAt < PROBE_GIVE_UP_MS) return false;
    if (nowMs - this.lastProbeAt < this.intervalMs) return false;
    this.probeSentAt = this.lastProbeAt = nowMs;
    return true;
  }

  /** A keepalive ack came back with this round trip. */
  onRoundTrip(rttMs: number, nowMs: number): void {
    this.probeSentAt = -1;
    if (nowMs - this.windowStart >= MIN_RTT_WINDOW_MS) {
      this.minPrevious = this.minCurrent;
      this.minCurrent = rttMs;
      this.windowStart = nowMs;
    } else if (rttMs < this.minCurrent) {
      this.minCurrent = rttMs;
    }
    this.excessMs = Math.max(0, rttMs - Math.min(this.minCurrent, this.minPrevious));
  }
}
