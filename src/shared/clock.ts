// Time, injected. Every module that reads the time or waits takes a Clock, so tests drive
// timers, debounces, backoff, keepalive deadlines, lease renewals and retries with a fake
// clock (test/helpers/fake-clock.ts) instead of sleeping, and no real timer decides a unit
// test's outcome. Production code uses systemClock.

/** An opaque timer handle as returned by `Clock.setTimeout` / `Clock.setInterval`. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Calls `fn` every `periodMs` until cleared. */
  setInterval(fn: () => void, periodMs: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

/** The real clock. Owners clear their timers in stop(), so none is left to hold the process. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, delayMs) => setTimeout(fn, delayMs),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (fn, periodMs) => setInterval(fn, periodMs),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
};

/** Resolves after `delayMs` on `clock`. */
export function sleep(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, delayMs));
}

/**
 * Settles like `promise`, or rejects with Error(`message`) after `timeoutMs` on `clock`.
 * The client library's calls cannot be cancelled: a late answer is simply ignored.
 */
export function withTimeout<T>(clock: Clock, promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clock.clearTimeout(timer));
}
