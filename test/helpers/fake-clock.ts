// A manual clock for unit tests: timers fire only when the test advances time, so
// debounces, dial backoff, keepalive deadlines, resyncs and lease timing are checked
// without sleeping and no real timer decides a test's outcome.
import type { Clock, TimerHandle } from '../../src/shared/clock.js';

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
  /** Set for intervals: the timer is due again this long after it fired. */
  periodMs?: number;
}

/** Lets pending promise chains (and I/O callbacks already due) run. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const seq = ++this.seq;
    this.timers.set(seq, { at: this.nowMs + Math.max(0, delayMs), seq, fn });
    return seq;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  setInterval(fn: () => void, periodMs: number): TimerHandle {
    const seq = ++this.seq;
    const period = Math.max(1, periodMs);
    this.timers.set(seq, { at: this.nowMs + period, seq, fn, periodMs: period });
    return seq;
  }

  clearInterval(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Delays of the pending timers, relative to now, ascending. */
  pendingDelays(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.nowMs).sort((a, b) => a - b);
  }

  /** Advances time by `ms`, firing due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.timers.values()) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.nowMs = next.at;
      if (next.periodMs === undefined) this.timers.delete(next.seq);
      else next.at += next.periodMs;
      next.fn();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }
}
