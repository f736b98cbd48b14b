// Exponential backoff with equal jitter for reconnects: each delay is half the capped
// exponential step plus a random part of the other half, so peers that lost each other at
// the same moment spread their redials, yet never redial sooner than half the step.
// Randomness is injected and callers wait on their Clock, so tests never sleep and never
// depend on chance.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** Returns a number in [0, 1). */
  random: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, random: Math.random };

export class Backoff {
  private attempt = 0;
  private readonly options: BackoffOptions;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
  }

  /** Delay before the next attempt: between half and all of the capped exponential step. */
  next(): number {
    const { initialMs, maxMs, factor, random } = this.options;
    const ceiling = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
