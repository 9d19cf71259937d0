import { describe, expect, it } from 'vitest';
import {
  DtmfDetector,
  DtmfError,
  buildTelephoneEvent,
  parseTelephoneEvent,
  telephoneEventPackets,
} from '../../src/media/dtmf.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('RFC 4733 telephone-event payload', () => {
  it('parses known packet bytes', () => {
    expect(parseTelephoneEvent(hex('05 0a 00 a0'))).toEqual({
      event: 5,
      digit: '5',
      end: false,
      volume: 10,
      duration: 160,
    });
    expect(parseTelephoneEvent(hex('0b 8a 03 20'))).toEqual({
      event: 11,
      digit: '#',
      end: true,
      volume: 10,
      duration: 800,
    });
    expect(parseTelephoneEvent(hex('10 3f ff ff'))).toMatchObject({
      event: 16,
      digit: '',
      volume: 63,
      duration: 65535,
    });
  });

  it('builds the same bytes', () => {
    expect(buildTelephoneEvent({ event: 11, end: true, volume: 10, duration: 800 }).toString('hex')).toBe('0b8a0320');
  });

  it('rejects short payloads and non-digits', () => {
    expect(() => parseTelephoneEvent(hex('05 0a 00'))).toThrow(DtmfError);
    expect(() => [...telephoneEventPackets('x')]).toThrow(/not a DTMF digit/);
  });

  it('generates the packet sequence for a 100 ms digit: growing durations, marker first, 3 end packets', () => {
    const packets = [...telephoneEventPackets('*', { durationMs: 100 })];
    expect(packets.map((p) => p.payload.toString('hex'))).toEqual([
      '0a0a00a0',
      '0a0a0140',
      '0a0a01e0',
      '0a0a0280',
      '0a8a0320',
      '0a8a0320',
      '0a8a0320',
    ]);
    expect(packets.map((p) => p.marker)).toEqual([true, false, false, false, false, false, false]);
  });
});

describe('DtmfDetector', () => {
  it('reports one digit per event despite the repeated end packets', () => {
    const d = new DtmfDetector();
    const out = [];
    for (const [ts, digit] of [
      [1000, '1'],
      [3000, '2'],
      [5000, '2'],
    ] as const) {
      for (const p of telephoneEventPackets(digit)) out.push(...d.push({ timestamp: ts, payload: p.payload }));
    }
    expect(out.map((e) => e.digit)).toEqual(['1', '2', '2']);
    expect(out.every((e) => e.endSeen && e.duration === 800)).toBe(true);
  });

  it('closes an event whose end packets were lost when the next one starts, and on flush', () => {
    const d = new DtmfDetector();
    const start = [...telephoneEventPackets('7')][0]!;
    expect(d.push({ timestamp: 100, payload: start.payload })).toEqual([]);
    const next = [...telephoneEventPackets('8')][0]!;
    expect(d.push({ timestamp: 2000, payload: next.payload }).map((e) => [e.digit, e.endSeen])).toEqual([['7', false]]);
    expect(d.flush()).toMatchObject({ digit: '8', endSeen: false });
    expect(d.flush()).toBeNull();
  });

  it('ignores a late non-end packet of an event already reported', () => {
    const d = new DtmfDetector();
    const packets = [...telephoneEventPackets('9')];
    expect(d.push({ timestamp: 1, payload: packets.at(-1)!.payload })).toHaveLength(1);
    expect(d.push({ timestamp: 1, payload: packets[0]!.payload })).toEqual([]);
    expect(d.flush()).toBeNull();
  });
});
