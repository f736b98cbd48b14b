// A task that re-reads some state (a directory, certificate files) from scratch. Requests
// that arrive while it runs are coalesced into exactly one more run, so a burst of file
// events costs two runs, never a pile of overlapping ones, and the last change is never
// missed. `trigger` additionally debounces: editors and rotation tools write in steps.

export interface CoalescedTask {
  /** Runs now, or once more after the current run. Resolves when the state is read. */
  run(): Promise<void>;
  /** Runs after `debounceMs` without further triggers. */
  trigger(): void;
  /** Cancels a pending trigger and waits for a run in progress. */
  stop(): Promise<void>;
}

import { systemClock, type Clock, type TimerHandle } from './clock.js';

/** `onError` receives what the task throws; the task keeps being run on later requests. */
export function createCoalescedTask(task: () => Promise<void>, debounceMs: number, onError: (err: unknown) => void, clock: Clock = systemClock): CoalescedTask {
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let timer: TimerHandle | undefined;

  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await task().catch(onError);
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    run,
    trigger() {
      if (stopped) return;
      clock.clearTimeout(timer);
      timer = clock.setTimeout(() => void run(), debounceMs);
    },
    async stop() {
      stopped = true;
      clock.clearTimeout(timer);
      await running;
    },
  };
}
