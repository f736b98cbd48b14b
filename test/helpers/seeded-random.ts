// A seeded generator (mulberry32) with helpers, for property tests: the same seed gives the
// same sequence on every machine, so a failing case is reproduced from its seed.
import { seededRandom } from '../../loadtest/fuzz/hostile-frames.js';

export class SeededRandom {
  /** A float in [0, 1); the fuzzing peer's generator, so both draw the same sequences. */
  readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }
}
