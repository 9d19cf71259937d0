import { describe, expect, it } from 'vitest';
import { JitterBuffer } from '../../src/media/jitter-buffer.js';

const N = 4;
/** A frame whose samples all carry its sequence number, so playout order is visible. */
const frame = (seq: number) => ({
  sequenceNumber: seq & 0xffff,
  timestamp: seq * N,
  payload: new Int16Array(N).fill((seq % 1000) + 1),
});
const id = (f: Int16Array) => f[0]! - 1; // -1 = silence

function jb(extra: Partial<ConstructorParameters<typeof JitterBuffer>[0]> = {}) {
  return new JitterBuffer({ depthFrames: 3, frameSamples: N, conceal: 'silence', ...extra });
}

describe('JitterBuffer', () => {
  it('plays silence until depthFrames are buffered, then in order', () => {
    const b = jb();
    b.push(frame(10));
    expect(id(b.pop())).toBe(-1);
    b.push(frame(11));
    b.push(frame(12));
    expect([b.pop(), b.pop(), b.pop()].map(id)).toEqual([10, 11, 12]);
  });

  it('reorders packets', () => {
    const b = jb();
    for (const s of [3, 1, 2, 5, 4]) b.push(frame(s));
    expect([1, 2, 3, 4, 5].map(() => id(b.pop()))).toEqual([1, 2, 3, 4, 5]);
  });

  it('drops duplicates and late packets, counting them', () => {
    const b = jb();
    for (const s of [1, 2, 2, 3]) b.push(frame(s));
    expect(id(b.pop())).toBe(1);
    b.push(frame(1)); // already played
    expect([b.pop(), b.pop()].map(id)).toEqual([2, 3]);
    expect(b.stats).toMatchObject({ duplicates: 1, late: 1, played: 3 });
  });

  it('conceals loss with silence', () => {
    const b = jb();
    for (const s of [1, 2, 4]) b.push(frame(s));
    expect([b.pop(), b.pop(), b.pop(), b.pop()].map(id)).toEqual([1, 2, -1, 4]);
    expect(b.stats.concealed).toBe(1);
  });

  it('conceals loss with a fading repeat of the last frame', () => {
    const b = jb({ conceal: 'fade' });
    const loud = { sequenceNumber: 1, timestamp: 0, payload: new Int16Array(N).fill(1000) };
    b.push(loud);
    b.push({ ...loud, sequenceNumber: 2 });
    b.push({ ...loud, sequenceNumber: 5 });
    expect([b.pop(), b.pop(), b.pop(), b.pop(), b.pop()].map((f) => f[0])).toEqual([1000, 1000, 500, 250, 1000]);
  });

  it('plays across the 16-bit sequence wrap', () => {
    const b = jb();
    for (const s of [65534, 0, 65535, 1]) b.push(frame(s));
    const out = [b.pop(), b.pop(), b.pop(), b.pop()].map(id);
    expect(out).toEqual([65534 % 1000, 65535 % 1000, 0, 1]);
    expect(b.stats.late).toBe(0);
  });

  it('honours the configured depth', () => {
    const b = jb({ depthFrames: 5 });
    for (let s = 1; s <= 4; s++) b.push(frame(s));
    expect(id(b.pop())).toBe(-1);
    b.push(frame(5));
    expect(id(b.pop())).toBe(1);
  });

  it('skips the oldest frames when more than maxFrames pile up (bounded latency)', () => {
    const b = jb({ maxFrames: 4 });
    for (let s = 1; s <= 10; s++) b.push(frame(s));
    expect(id(b.pop())).toBe(7);
    expect(b.stats.overflowDropped).toBe(6);
  });

  it('re-primes after a long outage and after a far sequence jump (stream restart)', () => {
    const b = jb({ resyncAfterLost: 3 });
    for (const s of [1, 2, 3]) b.push(frame(s));
    for (let i = 0; i < 3; i++) b.pop();
    for (let i = 0; i < 3; i++) b.pop(); // three lost frames → re-prime
    expect(b.stats.resyncs).toBe(1);
    for (const s of [40, 41]) b.push(frame(s));
    expect(id(b.pop())).toBe(-1); // priming again
    b.push(frame(42));
    expect(id(b.pop())).toBe(40);
    for (const s of [30000, 30001, 30002]) b.push(frame(s));
    expect(b.stats.resyncs).toBe(2);
    expect(id(b.pop())).toBe(30000 % 1000);
  });

  it('pads short payloads and cuts long ones to the frame size', () => {
    const b = jb({ depthFrames: 1 });
    b.push({ sequenceNumber: 1, timestamp: 0, payload: Int16Array.of(5, 5) });
    b.push({ sequenceNumber: 2, timestamp: 0, payload: new Int16Array(10).fill(6) });
    expect([...b.pop()]).toEqual([5, 5, 0, 0]);
    expect([...b.pop()]).toEqual([6, 6, 6, 6]);
  });
});

describe('JitterBuffer with recycleFrames', () => {
  const pooled = (extra: Partial<ConstructorParameters<typeof JitterBuffer>[0]> = {}) =>
    jb({ recycleFrames: true, ...extra });
  const pushFilled = (b: JitterBuffer, seq: number) => {
    const payload = b.acquireFrame().fill((seq % 1000) + 1);
    b.push({ sequenceNumber: seq & 0xffff, timestamp: seq * N, payload });
    return payload;
  };

  it('plays the same audio as without recycling while reusing a bounded set of frames', () => {
    const plain = jb({ conceal: 'fade' });
    const b = pooled({ conceal: 'fade' });
    const seen = new Set<Int16Array>();
    const order = [1, 2, 3, 5, 4, 6, 6, 8, 9, 10, 2, 11, 12, 14, 15, 16, 17, 18, 19, 20];
    for (let round = 0; round < 50; round++) {
      for (const s of order) {
        const seq = round * 100 + s;
        plain.push(frame(seq));
        pushFilled(b, seq);
        const want = plain.pop();
        const got = b.pop();
        expect(Array.from(got)).toEqual(Array.from(want));
        seen.add(got);
      }
    }
    expect(b.stats).toEqual(plain.stats);
    // 1000 pops, yet only a handful of distinct frame objects: held + last played + the pool.
    expect(seen.size).toBeLessThanOrEqual(16);
    expect(b.pooledFrames).toBeLessThanOrEqual(16);
  });

  it('recycles a frame only after the next pop, so the popped frame stays intact until then', () => {
    const b = pooled({ depthFrames: 1 });
    pushFilled(b, 1);
    const first = b.pop();
    expect(first[0]).toBe(2);
    // A new packet decoded before the next pop must not land in the frame just returned.
    const next = pushFilled(b, 2);
    expect(next).not.toBe(first);
    expect(first[0]).toBe(2);
    expect(b.pop()[0]).toBe(3);
    expect(b.acquireFrame()).toBe(first); // now free
  });

  it('returns dropped duplicates, late packets and reset frames to the pool', () => {
    const b = pooled();
    for (const s of [1, 2, 3]) pushFilled(b, s);
    b.pop();
    const duplicate = pushFilled(b, 2);
    expect(b.pooledFrames).toBe(1);
    const late = pushFilled(b, 1);
    expect(late).toBe(duplicate); // the dropped duplicate's frame, reused
    expect(b.pooledFrames).toBe(1);
    b.reset();
    expect(b.pooledFrames).toBe(1 + 3); // plus the two held frames and the one last played
  });
});
