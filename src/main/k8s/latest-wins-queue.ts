// One task at a time per key, and only the newest value matters: while a task for a key
// runs, further submissions for it collapse into one pending value (the latest), run
// after the current one. Two status writes for one KubeLink therefore never race, a burst
// of state changes costs at most two writes, and the last one wins.

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Slot<V> {
  pending?: { value: V; waiters: Waiter[] };
}

export class LatestWinsQueue<K, V> {
  private readonly slots = new Map<K, Slot<V>>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly work: (key: K, value: V) => Promise<void>) {}

  /**
   * Runs `work(key, value)` after the task running for `key`, unless a newer value is
   * submitted first. Settles with the outcome of the run that covered this value.
   */
  submit(key: K, value: V): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let slot = this.slots.get(key);
      const fresh = !slot;
      if (!slot) {
        slot = {};
        this.slots.set(key, slot);
      }
      if (slot.pending) {
        slot.pending.value = value;
        slot.pending.waiters.push({ resolve, reject });
      } else {
        slot.pending = { value, waiters: [{ resolve, reject }] };
      }
      if (fresh) {
        const drained = this.drain(key, slot);
        this.running.add(drained);
        void drained.finally(() => this.running.delete(drained));
      }
    });
  }

  /** Keys with a task running or pending. */
  get size(): number {
    return this.slots.size;
  }

  /** Resolves when nothing runs or waits (tasks submitted meanwhile included). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async drain(key: K, slot: Slot<V>): Promise<void> {
    // Start on a later tick so submissions made in the same turn coalesce.
    await Promise.resolve();
    while (slot.pending) {
      const { value, waiters } = slot.pending;
      slot.pending = undefined;
      try {
        await this.work(key, value);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.slots.delete(key);
  }
}
