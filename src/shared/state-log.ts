// "Log once while this state lasts": periodic work (reconciles, polls, rescans) finds the
// same problem every period, and a log line per period would bury the one that matters.
// StateLog remembers, per key, the state last logged; a caller logs only when changed()
// says the state is new. A state that goes away and comes back is logged again.

export class StateLog<K = string> {
  private readonly last = new Map<K, string>();

  /**
   * True when `state` (compared by its JSON) differs from the state last seen for `key`,
   * which it then becomes. `undefined` is a state too: the problem went away.
   */
  changed(key: K, state: unknown): boolean {
    const text = JSON.stringify(state) ?? 'undefined';
    if (this.last.get(key) === text) return false;
    this.last.set(key, text);
    return true;
  }

  /** Forgets the keys not in `keys` (e.g. links that were removed), so they log afresh. */
  retain(keys: { has(key: K): boolean }): void {
    for (const key of [...this.last.keys()]) if (!keys.has(key)) this.last.delete(key);
  }
}
