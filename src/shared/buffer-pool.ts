// A free list of equally sized write buffers, shared by the connections of one shard.
//
// Every frame batch a tunnel writes used to be a fresh 64+ KiB Buffer: at 3 Gbit/s that is
// ~6000 backing stores a second outside the V8 heap, and V8 answers external memory
// growth with extra garbage collections (a quarter of a broker's CPU in profiles,
// docs/architecture.md, "Allocation on the hot path"). A batch's buffer is given back once
// its socket write completed (the write callback) and the next batch reuses it.
// Bounded: at most maxFree buffers wait here; more in flight are allocated and left to
// the garbage collector as before.

export class BufferPool {
  private size = 0;
  private readonly free: ArrayBuffer[] = [];
  /** Buffers handed out that came from the free list (reuse), for tests and profiles. */
  reused = 0;

  constructor(private readonly maxFree: number) {
    if (!Number.isInteger(maxFree) || maxFree < 0) throw new RangeError(`maxFree must be a non-negative integer, got ${maxFree}`);
  }

  /** Buffers waiting for reuse. */
  get freeCount(): number {
    return this.free.length;
  }

  /**
   * A buffer of exactly `size` bytes, reused when one is free. The pool holds one size at
   * a time; asking for another drops the free ones (all users of a shard's pool ask for
   * the same size).
   */
  get(size: number): Buffer {
    if (size !== this.size) {
      this.size = size;
      this.free.length = 0;
    }
    const reusable = this.free.pop();
    if (reusable === undefined) return Buffer.allocUnsafeSlow(size);
    this.reused++;
    return Buffer.from(reusable, 0, size);
  }

  /**
   * Gives back the memory under `view` (a buffer from get(), or any view into it) once
   * nothing reads it any more. Memory of another size (e.g. a copied-out small batch in
   * Node's shared slab) is ignored. The caller must give each buffer back at most once.
   */
  put(view: Uint8Array): void {
    const memory = view.buffer;
    if (!(memory instanceof ArrayBuffer) || memory.byteLength !== this.size || this.free.length >= this.maxFree) return;
    this.free.push(memory);
  }
}
