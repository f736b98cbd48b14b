// Decrypted TLS data read into one buffer the shard reuses, instead of a fresh Buffer per
// TLS record.
//
// Node's TLS hands every decrypted record (up to 16 KiB) to JavaScript in a newly
// allocated Buffer: at 3 Gbit/s some 23 000 backing stores a second outside the V8 heap,
// which V8 pays for with extra garbage collections (docs/architecture.md, "Allocation on
// the hot path"). Node's `onread` option (a user buffer that each read fills, handed to a
// callback) avoids that; tls.connect takes it, but a TLSSocket made around an accepted
// socket ignores it. Both get it here the same way, by what `onread` sets up in net.Socket:
// the buffer and callback in the socket's `kBuffer`/`kBufferCb` slots and the stream
// handle switched to the buffer with `useUserBuffer`. Where those are missing (another
// Node), nothing changes and the 'data' events carry the chunks as before.
import type net from 'node:net';

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/** net.Socket's private symbols of the onread option, found by their description. */
function onreadSlots(socket: net.Socket): { buffer: symbol; callback: symbol; generator: symbol } | undefined {
  const byName = new Map<string, symbol>();
  for (const symbol of Object.getOwnPropertySymbols(socket)) {
    if (symbol.description !== undefined) byName.set(symbol.description, symbol);
  }
  const buffer = byName.get('kBuffer');
  const callback = byName.get('kBufferCb');
  const generator = byName.get('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : undefined;
}

/**
 * From now on the socket's reads land in `buffer` and reach `onChunk` as a view of it,
 * valid only during the call (the next read of any socket sharing the buffer overwrites
 * it). Returns false when this Node does not offer it; the caller then keeps the 'data'
 * event. Chunks read before the switch still come as 'data' events: keep that listener.
 */
export function readIntoBuffer(socket: net.Socket, buffer: Buffer, onChunk: (chunk: Buffer) => void): boolean {
  const slots = onreadSlots(socket);
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (slots === undefined || typeof handle?.useUserBuffer !== 'function') return false;
  const target = socket as unknown as Record<symbol, unknown>;
  target[slots.buffer] = buffer;
  target[slots.generator] = null;
  target[slots.callback] = (bytes: number, filled: Buffer): undefined => {
    onChunk(filled.subarray(0, bytes));
  };
  handle.useUserBuffer(buffer);
  return true;
}
