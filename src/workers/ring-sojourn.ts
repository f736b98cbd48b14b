// How long the records a shard takes from its ring have waited there, without a time
// stamp per record: at each pass the shard notes where the producer's head stands and
// when; once the consumer has passed such a position, everything before it was published
// by then. The oldest noted position not yet consumed therefore gives a lower bound of
// the current wait (0 when a pass took all that waited: a backlog that outlives passes
// is what a drop can shorten).

/** Positions noted at most; when full, passes are not noted until some are consumed. */
const MAX_SAMPLES = 1024;

export class RingSojourn {
  private readonly positions = new Uint32Array(MAX_SAMPLES);
  private readonly times = new Float64Array(MAX_SAMPLES);
  private first = 0;
  private count = 0;
  private lastHead = -1;

  /**
   * At the start of a pass: `head` = the producer's published position, `consumed` = the
   * consumer's (free-running u32 byte counters). Returns how long the oldest waiting data
   * has waited, ms (0 when nothing waits).
   */
  update(head: number, consumed: number, nowMs: number): number {
    // Drop the noted positions the consumer has reached (u32 wrap-around arithmetic).
    while (this.count > 0 && ((consumed - this.positions[this.first]!) | 0) >= 0) {
      this.first = (this.first + 1) % MAX_SAMPLES;
      this.count--;
    }
    // A noted position still ahead: the data before it waited at least since then. None:
    // 0, though the data may have waited since the previous pass began — that bound
    // would also count an idle shard's sleep, and the event-loop turn of a busy one is
    // processing time no drop can shorten (it made CoDel drop a flow to a standstill).
    const delay = head !== consumed && this.count > 0 ? nowMs - this.times[this.first]! : 0;
    if (head !== this.lastHead && head !== consumed && this.count < MAX_SAMPLES) {
      const at = (this.first + this.count) % MAX_SAMPLES;
      this.positions[at] = head;
      this.times[at] = nowMs;
      this.count++;
      this.lastHead = head;
    }
    return delay;
  }
}
