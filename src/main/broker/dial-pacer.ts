// Paces the broker's outbound dials: at most `maxInFlight` handshakes of our own at once,
// fresh dials spread by a random jitter, later ones (backoff, on demand) at their due time.
// One timer for all links (not one per link), armed for the earliest due dial while there
// is room. Without this, 252 links appearing at once were 252 simultaneous TLS handshakes
// on two cores: each took long enough to hit its deadline, and the retries made it worse.
//
// Keys are link ids: at most one queued or in-flight dial per link. The owner calls
// `finished(key)` when a dial's handshake ends either way (established or closed).
import type { Clock, TimerHandle } from '../../shared/clock.js';

export interface DialPacerOptions {
  /** Outbound handshakes allowed at once; more wait in the queue. */
  maxInFlight: number;
  /** Fresh dials start at a random point in [0, jitterMs) from being asked for. */
  jitterMs: number;
  clock: Clock;
  /** Returns a number in [0, 1); injectable so tests do not depend on chance. */
  random?: () => number;
}

export const DEFAULT_MAX_DIALS_IN_FLIGHT = 16;
export const DEFAULT_DIAL_JITTER_MS = 200;

export class DialPacer {
  /** Queued dials and when each becomes due (clock ms). */
  private readonly due = new Map<number, number>();
  private readonly active = new Set<number>();
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  /** The most handshakes ever in flight at once (for tests and metrics). */
  peakInFlight = 0;

  constructor(
    private readonly options: DialPacerOptions,
    private readonly start: (key: number) => void,
  ) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError(`maxInFlight must be an integer >= 1, got ${options.maxInFlight}`);
    if (!(options.jitterMs >= 0)) throw new RangeError(`jitterMs must be >= 0, got ${options.jitterMs}`);
  }

  /**
   * Queues a dial of `key` due `delayMs` from now; with `jitter`, a random part of jitterMs
   * is added (fresh dials). A key queued already keeps the earlier of the two due times;
   * a key in flight is left alone.
   */
  schedule(key: number, delayMs: number, jitter: boolean): void {
    if (this.stopped || this.active.has(key)) return;
    const random = this.options.random ?? Math.random;
    const at = this.options.clock.now() + Math.max(0, delayMs) + (jitter ? Math.floor(random() * this.options.jitterMs) : 0);
    const queued = this.due.get(key);
    if (queued === undefined || at < queued) this.due.set(key, at);
    this.pump();
  }

  /** Forgets a queued dial (the link was removed or came up by an accepted connection). */
  cancel(key: number): void {
    if (this.due.delete(key)) this.pump();
  }

  /** The handshake of `key`'s dial has ended (established, failed or closed). */
  finished(key: number): void {
    if (this.active.delete(key)) this.pump();
  }

  isQueued(key: number): boolean {
    return this.due.has(key);
  }

  get inFlight(): number {
    return this.active.size;
  }

  get queued(): number {
    return this.due.size;
  }

  stop(): void {
    this.stopped = true;
    this.due.clear();
    this.disarm();
  }

  /** Starts due dials while there is room, then arms the timer for the next one. */
  private pump(): void {
    if (this.stopped) return;
    const now = this.options.clock.now();
    while (this.active.size < this.options.maxInFlight) {
      const next = this.earliest();
      if (next === undefined || next[1] > now) break;
      this.due.delete(next[0]);
      this.active.add(next[0]);
      this.peakInFlight = Math.max(this.peakInFlight, this.active.size);
      this.start(next[0]);
    }
    const next = this.active.size < this.options.maxInFlight ? this.earliest() : undefined;
    if (next === undefined) {
      this.disarm();
    } else if (next[1] !== this.timerAt) {
      this.disarm();
      this.timerAt = next[1];
      this.timer = this.options.clock.setTimeout(() => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      }, next[1] - now);
    }
  }

  private earliest(): [number, number] | undefined {
    let best: [number, number] | undefined;
    for (const entry of this.due) if (!best || entry[1] < best[1]) best = entry;
    return best;
  }

  private disarm(): void {
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}
