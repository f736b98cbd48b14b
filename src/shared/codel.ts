// CoDel (RFC 8289) drop decisions on the time packets wait, for a tunnel's outgoing queue.
//
// A saturated tunnel fills whatever queue it has: the inner TCP flows grow until a packet
// is lost, and a byte bound only decides how deep the standing queue gets (pings waited
// 30 ms behind bulk data with 4 MiB bounds; docs/architecture.md, "Queues and latency").
// CoDel drops a bulk packet only when the queueing delay stayed above `targetMs` for a
// whole `intervalMs`, then more often (interval / sqrt(count)) while it stays above, and
// stops as soon as it falls below: the flows back off and the queue drains to about the
// target, without the bursts of tail drops a byte bound gives.
// The caller measures the delay (how long the data leaving now has waited) and asks
// `shouldDrop` for each packet it may drop; time is passed in, so tests need no clock.

export interface CoDelOptions {
  /** Acceptable standing queueing delay, ms. */
  targetMs: number;
  /** How long the delay must stay above target before the first drop, ms (about a worst-case RTT). */
  intervalMs: number;
}

export class CoDel {
  /** When the delay, above target since, will have been so for a whole interval (0: below target). */
  private firstAboveTime = 0;
  private dropping = false;
  private dropNext = 0;
  private count = 0;
  private lastCount = 0;
  /** Drops decided so far. */
  drops = 0;

  constructor(private readonly options: CoDelOptions) {
    const { targetMs, intervalMs } = options;
    if (!(targetMs > 0) || !(intervalMs >= targetMs)) throw new RangeError(`CoDel needs 0 < targetMs <= intervalMs, got ${targetMs} / ${intervalMs}`);
  }

  /** True while CoDel is in its dropping state (the delay stays above target). */
  get isDropping(): boolean {
    return this.dropping;
  }

  /**
   * A packet may leave now after waiting `delayMs` (the queue's current sojourn time):
   * true when CoDel drops it.
   */
  shouldDrop(delayMs: number, nowMs: number): boolean {
    const { targetMs, intervalMs } = this.options;
    let okToDrop = false;
    if (delayMs < targetMs) {
      this.firstAboveTime = 0;
    } else if (this.firstAboveTime === 0) {
      this.firstAboveTime = nowMs + intervalMs;
    } else if (nowMs >= this.firstAboveTime) {
      okToDrop = true;
    }
    if (this.dropping) {
      if (!okToDrop) {
        this.dropping = false;
        return false;
      }
      if (nowMs < this.dropNext) return false;
      this.count++;
      this.dropNext = this.controlLaw(this.dropNext);
      this.drops++;
      return true;
    }
    if (!okToDrop) return false;
    this.dropping = true;
    // Back in the dropping state soon after leaving it: resume near the old drop rate.
    const delta = this.count - this.lastCount;
    this.count = delta > 1 && nowMs - this.dropNext < 16 * intervalMs ? delta : 1;
    this.lastCount = this.count;
    this.dropNext = this.controlLaw(nowMs);
    this.drops++;
    return true;
  }

  private controlLaw(fromMs: number): number {
    return fromMs + this.options.intervalMs / Math.sqrt(this.count);
  }
}
