// Dial on demand without polling (docs/architecture.md, "Route table and demand"): one Int32
// word per link id, set by the TUN reader when a packet wants a link that has no tunnel,
// plus a doorbell word the main thread waits on with Atomics.waitAsync. The reader rings
// the doorbell only on a link word's 0 -> 1 edge, and only when the doorbell is not already
// ringing, so packets for a link that is already marked cost one plain read and never wake
// the main thread.
//
//   Int32 words: | doorbell | link 0 | link 1 | ... | link maxLinks-1 |
//
// The main thread clears the doorbell before it takes the link words: a mark that lands
// after the clear rings again, so no demand is lost between a take and the next wait.

const DOORBELL = 0;
const FIRST_LINK = 1;

export class DemandWords {
  private readonly words: Int32Array;

  static allocate(maxLinks: number): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * (FIRST_LINK + maxLinks));
  }

  constructor(sab: SharedArrayBuffer) {
    this.words = new Int32Array(sab);
  }

  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  get maxLinks(): number {
    return this.words.length - FIRST_LINK;
  }

  /** TUN reader, per packet for a link without a tunnel: marks it, ringing on the 0 -> 1 edge. */
  mark(linkId: number): void {
    const word = FIRST_LINK + linkId;
    if (this.words[word] !== 0) return;
    if (Atomics.compareExchange(this.words, word, 0, 1) !== 0) return;
    if (Atomics.exchange(this.words, DOORBELL, 1) === 0) Atomics.notify(this.words, DOORBELL);
  }

  /**
   * Main thread: resolves once the doorbell rings (at once when it already has since the
   * last take). Does not clear it: take() does.
   */
  rung(): Promise<void> {
    const wait = Atomics.waitAsync(this.words, DOORBELL, 0);
    return wait.async ? wait.value.then(() => undefined) : Promise.resolve();
  }

  /** Main thread: clears the doorbell, then takes (and clears) the marked link ids. */
  take(): number[] {
    Atomics.store(this.words, DOORBELL, 0);
    const wanted: number[] = [];
    for (let word = FIRST_LINK; word < this.words.length; word++) {
      if (this.words[word] !== 0 && Atomics.exchange(this.words, word, 0) !== 0) wanted.push(word - FIRST_LINK);
    }
    return wanted;
  }

  /** Main thread, on stop: resolves a pending rung() without a mark. */
  wake(): void {
    Atomics.store(this.words, DOORBELL, 1);
    Atomics.notify(this.words, DOORBELL);
  }
}
