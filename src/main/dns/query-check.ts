// Checks a raw query before it reaches the DNS codec, for what dns-packet leaves open:
// it decodes labels as UTF-8 (so a label holding "." or binary bytes would turn into a
// different name after rewriting) and it accepts a compression pointer in the question,
// where no earlier name exists to point to. dns-packet itself rejects names over 255
// bytes and pointers that do not point backwards (so loops), which is why those also
// end up as FORMERR: the server answers FORMERR to whatever fails here or in the codec.

export const DNS_HEADER_BYTES = 12;
/** RFC 1035 2.3.4: a name is at most 255 bytes on the wire, root label included. */
export const MAX_NAME_WIRE_BYTES = 255;

export type QueryCheck =
  | { ok: true }
  /** Answer FORMERR (the header is readable, so the reply can carry the id). */
  | { ok: false; action: 'formerr'; reason: string }
  /** Do not answer at all: too short to carry an id, or a response (answering those loops). */
  | { ok: false; action: 'drop'; reason: string };

const QR_BIT = 0x80;

export function checkQuery(buf: Uint8Array): QueryCheck {
  if (buf.length < DNS_HEADER_BYTES) return { ok: false, action: 'drop', reason: `shorter than the ${DNS_HEADER_BYTES}-byte header` };
  if ((buf[2]! & QR_BIT) !== 0) return { ok: false, action: 'drop', reason: 'a response, not a query' };
  const questions = (buf[4]! << 8) | buf[5]!;
  if (questions !== 1) return { ok: false, action: 'formerr', reason: `${questions} questions (expected 1)` };
  let at = DNS_HEADER_BYTES;
  let wireBytes = 0;
  for (;;) {
    if (at >= buf.length) return { ok: false, action: 'formerr', reason: 'question name runs past the end' };
    const length = buf[at]!;
    wireBytes += 1 + ((length & 0xc0) === 0 ? length : 0);
    if (wireBytes > MAX_NAME_WIRE_BYTES) return { ok: false, action: 'formerr', reason: `question name longer than ${MAX_NAME_WIRE_BYTES} bytes` };
    if (length === 0) break;
    if ((length & 0xc0) === 0xc0) return { ok: false, action: 'formerr', reason: 'compression pointer in the question (nothing earlier to point to)' };
    if ((length & 0xc0) !== 0) return { ok: false, action: 'formerr', reason: `label type 0x${(length & 0xc0).toString(16)} in the question` };
    if (at + 1 + length > buf.length) return { ok: false, action: 'formerr', reason: 'question name runs past the end' };
    for (let i = at + 1; i <= at + length; i++) {
      const byte = buf[i]!;
      if (byte <= 0x20 || byte >= 0x7f || byte === 0x2e) return { ok: false, action: 'formerr', reason: 'question label holds a dot, a space or a non-ASCII byte' };
    }
    at += 1 + length;
  }
  if (at + 1 + 4 > buf.length) return { ok: false, action: 'formerr', reason: 'question type and class missing' };
  return { ok: true };
}
