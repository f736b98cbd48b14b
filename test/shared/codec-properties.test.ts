// Property tests of what a peer controls byte by byte: the frame decoder and the hello
// parser, fed seeded random and hostile input. Properties: nothing throws; every frame
// ends as exactly one packet, control frame or counted malformed frame; how the bytes are
// cut into chunks changes nothing; the decoder holds at most one maximal frame. A failing
// case names its seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, type FrameMalformedReason, type FrameSink } from '../../src/shared/frame-codec.js';
import {
  ControlType,
  FRAME_HEADER_BYTES,
  HELLO_BYTES,
  MAX_FRAME_PAYLOAD,
  MAX_HELLO_BYTES,
  decodeControl,
  encodeHello,
  encodeKeepalive,
  writeFrameHeader,
} from '../../src/shared/wire.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const SEEDS = Array.from({ length: 40 }, (_, i) => 0x5eed0000 + i);

type Event = string;

/** A sink recording what the decoder made of the stream, one string per event. */
function recorder(): { sink: FrameSink; events: Event[] } {
  const events: Event[] = [];
  const hex = (b: Uint8Array, o: number, l: number) => Buffer.from(b.subarray(o, o + l)).toString('hex');
  return {
    events,
    sink: {
      onIpPacket: (b, o, l) => events.push(`ip:${hex(b, o, l)}`),
      onOffloadPacket: (b, o, l) => events.push(`offload:${hex(b, o, l)}`),
      onControl: (b, o, l) => events.push(`control:${hex(b, o, l)}`),
      onMalformed: (reason: FrameMalformedReason) => events.push(`malformed:${reason}`),
    },
  };
}

/** A valid IPv4 header + payload of `total` bytes (ipPacketValid checks lengths, not checksums). */
function ipv4(r: SeededRandom, total: number): Buffer {
  const p = r.bytes(total);
  p[0] = 0x45;
  p.writeUInt16BE(total, 2);
  p[6] = 0;
  p[7] = 0; // no fragment bits
  p[9] = r.pick([1, 6, 17]);
  return p;
}

/** One frame's payload and what the decoder must report for it. */
function hostileFrame(r: SeededRandom): { payload: Buffer; expect: string } {
  switch (r.int(0, 6)) {
    case 0: {
      const p = ipv4(r, r.int(20, 1500));
      return { payload: p, expect: `ip:${p.toString('hex')}` };
    }
    case 1: {
      const p = Buffer.alloc(13);
      encodeKeepalive(p, 0, { seq: r.int(0, 0xffffffff), sentTimeMs: r.next() * 1e6 });
      return { payload: p, expect: `control:${p.toString('hex')}` };
    }
    case 2: {
      const p = Buffer.alloc(0);
      return { payload: p, expect: 'malformed:empty' };
    }
    case 3: {
      // an IPv4 header claiming more than the frame holds
      const p = ipv4(r, r.int(20, 200));
      p.writeUInt16BE(p.length + r.int(1, 1000), 2);
      return { payload: p, expect: 'malformed:truncated' };
    }
    case 4: {
      const p = r.bytes(r.int(1, 64));
      p[0] = r.pick([0x00, 0x04, 0x0f, 0x10, 0x20, 0x3f, 0x7f, 0xff]); // no IP version, no control type (offload only after gso)
      return { payload: p, expect: 'malformed:unknown-type' };
    }
    case 5: {
      const p = ipv4(r, 20);
      p[0] = 0x41 + r.int(0, 3); // IHL below 5
      return { payload: p, expect: 'malformed:truncated' };
    }
    default: {
      const p = Buffer.alloc(HELLO_BYTES);
      encodeHello(p, 0, { version: 1, capabilities: 0, clusterAddress: r.int(0, 0xffffffff), maxFramePayload: MAX_FRAME_PAYLOAD });
      return { payload: p, expect: `control:${p.toString('hex')}` };
    }
  }
}

function frame(payload: Buffer): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** Feeds `stream` in random chunks; checks the memory bound after each; returns push results. */
function feed(decoder: FrameDecoder, stream: Buffer, r: SeededRandom, maxHeld: number): boolean[] {
  const results: boolean[] = [];
  for (let at = 0; at < stream.length; ) {
    const size = r.pick([1, 2, 3, 7, r.int(1, 100), r.int(1, 4000), r.int(1, 70_000)]);
    results.push(decoder.push(stream.subarray(at, at + size)));
    assert.ok(decoder.bufferedBytes <= maxHeld, `seed ${r.seed}: decoder holds ${decoder.bufferedBytes} > ${maxHeld} bytes`);
    at += size;
  }
  return results;
}

test('every frame of a hostile stream decodes or is counted malformed, one event per frame, however the stream is chunked', () => {
  for (const seed of SEEDS) {
    const r = new SeededRandom(seed);
    const frames = Array.from({ length: r.int(50, 400) }, () => hostileFrame(r));
    const stream = Buffer.concat(frames.map((f) => frame(f.payload)));
    const { sink, events } = recorder();
    const decoder = new FrameDecoder({}, sink);
    const results = feed(decoder, stream, r, FRAME_HEADER_BYTES + MAX_FRAME_PAYLOAD);
    assert.ok(results.every(Boolean), `seed ${seed}: no length exceeds the maximum, the stream is never given up`);
    assert.deepEqual(events, frames.map((f) => f.expect), `seed ${seed}`);
    assert.equal(decoder.bufferedBytes, 0, `seed ${seed}: nothing left over`);
  }
});

test('random bytes never throw, the decoder stays within one maximal frame, and after an oversize length it reports nothing more', () => {
  for (const seed of SEEDS) {
    const r = new SeededRandom(seed);
    // Random bytes, sometimes after valid frames, sometimes with u32-looking length escapes.
    const parts = [r.bytes(r.int(0, 100_000))];
    if (r.next() < 0.5) parts.unshift(frame(ipv4(r, 60)));
    if (r.next() < 0.3) parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const stream = Buffer.concat(parts);
    const { sink, events } = recorder();
    const maxPayload = r.pick([MAX_FRAME_PAYLOAD, 1500, 9000]);
    const decoder = new FrameDecoder({ maxFramePayload: maxPayload }, sink);
    const results = feed(decoder, stream, r, FRAME_HEADER_BYTES + maxPayload);
    const failedAt = results.indexOf(false);
    if (failedAt >= 0) {
      assert.ok(results.slice(failedAt).every((ok) => !ok), `seed ${seed}: a lost stream stays lost`);
      assert.equal(events.at(-1), 'malformed:oversize', `seed ${seed}: the last event is the oversize length`);
      assert.equal(events.filter((e) => e === 'malformed:oversize').length, 1);
    }
    for (const e of events) assert.match(e, /^(ip|control|malformed):/, `seed ${seed}`);
  }
});

test('the hello parser: random payloads never throw, encoded hellos round-trip, every cut of a hello is refused or keeps its fixed part', () => {
  for (const seed of SEEDS) {
    const r = new SeededRandom(seed);
    for (let i = 0; i < 200; i++) {
      const payload = r.bytes(r.int(0, MAX_HELLO_BYTES + 20));
      if (payload.length > 0 && r.next() < 0.7) payload[0] = r.pick([ControlType.hello, ControlType.keepalive, ControlType.keepaliveAck]);
      const decoded = decodeControl(payload, 0, payload.length);
      if (!decoded.ok) assert.equal(typeof decoded.reason, 'string');
      else if (decoded.value.type === 'hello' && decoded.value.dns) {
        assert.match(decoded.value.dns.domain, /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, `seed ${seed}: only plain host names come out`);
      }
    }
    const domain = Array.from({ length: r.int(1, 40) }, () => r.pick([...'abcdefghijklmnopqrstuvwxyz0123456789'])).join('');
    const hello = {
      version: r.int(0, 255),
      capabilities: r.int(0, 0xffffffff),
      clusterAddress: r.int(0, 0xffffffff),
      maxFramePayload: r.int(0, 0xffffffff),
      ...(r.next() < 0.5 ? { dns: { dnsIp: r.int(0, 0xffffffff), domain } } : {}),
      ...(r.next() < 0.5 ? { meshDnsPort: r.int(0, 0xffff) } : {}),
    };
    const buf = Buffer.alloc(MAX_HELLO_BYTES);
    const length = encodeHello(buf, 0, hello);
    const whole = decodeControl(buf, 0, length);
    assert.deepEqual(whole, { ok: true, value: { type: 'hello', ...hello } }, `seed ${seed}`);
    for (let cut = 0; cut < length; cut++) {
      const partial = decodeControl(buf, 0, cut);
      if (cut < HELLO_BYTES) assert.equal(partial.ok, false, `seed ${seed}: ${cut} bytes are not a hello`);
      else {
        assert.ok(partial.ok && partial.value.type === 'hello', `seed ${seed}`);
        const { dns: _dropped, meshDnsPort: _port, ...fixed } = hello as typeof hello & { meshDnsPort?: number };
        const { badExtensions, ...decoded } = partial.value as typeof partial.value & { badExtensions?: string[] };
        assert.deepEqual({ ...decoded, dns: undefined, meshDnsPort: undefined }, { type: 'hello', ...fixed, dns: undefined, meshDnsPort: undefined }, `seed ${seed}: a cut extension keeps the fixed part`);
        // A cut inside an extension is reported (counted by the receiver); a cut between extensions is not.
        if (badExtensions !== undefined) assert.match(badExtensions.join(), /truncated/, `seed ${seed}`);
      }
    }
  }
});
