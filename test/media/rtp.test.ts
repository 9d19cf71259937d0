import { describe, expect, it } from 'vitest';
import {
  RtpParseError,
  parseRtp,
  seqAdd,
  seqDistance,
  seqNewer,
  serializeRtp,
  tsAdd,
  tsDistance,
  tsNewer,
} from '../../src/media/rtp.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('parseRtp', () => {
  it('parses a plain PCMU packet (Asterisk: 12-byte header + 160 bytes)', () => {
    const buf = Buffer.concat([hex('80 00 12 34 00 00 03 e8 de ad be ef'), Buffer.alloc(160, 0xff)]);
    const p = parseRtp(buf);
    expect(p).toMatchObject({
      version: 2,
      padding: false,
      extension: false,
      marker: false,
      payloadType: 0,
      sequenceNumber: 0x1234,
      timestamp: 1000,
      ssrc: 0xdeadbeef,
      csrcs: [],
    });
    expect(p.payload.length).toBe(160);
  });

  it('parses marker, CSRCs, header extension and padding together', () => {
    const buf = hex(
      'b2 e5 ff ff ff ff ff ff 00 00 00 01' + // V=2 P=1 X=1 CC=2, M=1 PT=101, seq 65535, ts max
        '00 00 00 0a 00 00 00 0b' + // CSRCs
        'be de 00 01 11 22 33 44' + // extension profile 0xBEDE, 1 word
        'aa bb' + // payload
        '00 00 03', // 3 bytes of padding
    );
    const p = parseRtp(buf);
    expect(p).toMatchObject({
      padding: true,
      extension: true,
      marker: true,
      payloadType: 101,
      sequenceNumber: 65535,
      timestamp: 0xffffffff,
      ssrc: 1,
      csrcs: [10, 11],
      extensionProfile: 0xbede,
      paddingLength: 3,
    });
    expect(p.extensionData!.toString('hex')).toBe('11223344');
    expect(p.payload.toString('hex')).toBe('aabb');
    expect(serializeRtp(p)).toEqual(buf);
  });

  it.each([
    ['too short', hex('80 00 00 01 00 00 00 00 00 00 00'), /too short/],
    ['version 1', hex('40 00 00 01 00 00 00 00 00 00 00 01'), /version 1/],
    ['CSRC past end', hex('83 00 00 01 00 00 00 00 00 00 00 01 00 00 00 02'), /CSRC/],
    ['extension past end', hex('90 00 00 01 00 00 00 00 00 00 00 01 be de 00 02 00 00 00 00'), /extension/],
    ['padding count 0', hex('a0 00 00 01 00 00 00 00 00 00 00 01 aa 00'), /padding/],
    ['padding past header', hex('a0 00 00 01 00 00 00 00 00 00 00 01 aa 09'), /padding/],
  ])('rejects %s with RtpParseError', (_name, buf, message) => {
    expect(() => parseRtp(buf)).toThrow(RtpParseError);
    expect(() => parseRtp(buf)).toThrow(message);
  });
});

describe('serializeRtp', () => {
  it('writes the exact bytes of a PCMU packet', () => {
    const buf = serializeRtp({
      payloadType: 0,
      sequenceNumber: 0x1234,
      timestamp: 1000,
      ssrc: 0xdeadbeef,
      marker: true,
      payload: Buffer.from([1, 2, 3]),
    });
    expect(buf.toString('hex')).toBe('80801234000003e8deadbeef010203');
  });

  it('pads to a multiple of 4 when padding is asked without a length', () => {
    const buf = serializeRtp({
      payloadType: 8,
      sequenceNumber: 1,
      timestamp: 2,
      ssrc: 3,
      padding: true,
      payload: Buffer.from([9]),
    });
    expect(buf.length).toBe(16);
    expect(buf[buf.length - 1]).toBe(3);
    expect(parseRtp(buf).payload).toEqual(Buffer.from([9]));
  });

  it('wraps sequence and timestamp and rejects bad fields', () => {
    const p = parseRtp(
      serializeRtp({
        payloadType: 0,
        sequenceNumber: 65536 + 5,
        timestamp: 2 ** 32 + 7,
        ssrc: 1,
        payload: Buffer.alloc(0),
      }),
    );
    expect(p.sequenceNumber).toBe(5);
    expect(p.timestamp).toBe(7);
    expect(() =>
      serializeRtp({ payloadType: 128, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: Buffer.alloc(0) }),
    ).toThrow(RangeError);
    expect(() =>
      serializeRtp({
        payloadType: 0,
        sequenceNumber: 0,
        timestamp: 0,
        ssrc: 0,
        payload: Buffer.alloc(0),
        extensionData: Buffer.alloc(3),
      }),
    ).toThrow(/multiple of 4/);
    expect(() =>
      serializeRtp({
        payloadType: 0,
        sequenceNumber: 0,
        timestamp: 0,
        ssrc: 0,
        payload: Buffer.alloc(0),
        csrcs: new Array<number>(16).fill(1),
      }),
    ).toThrow(/15 CSRCs/);
  });
});

describe('wrap-aware sequence and timestamp helpers', () => {
  it('orders sequence numbers across the 16-bit wrap', () => {
    expect(seqDistance(2, 65534)).toBe(4);
    expect(seqDistance(65534, 2)).toBe(-4);
    expect(seqNewer(0, 65535)).toBe(true);
    expect(seqNewer(65535, 0)).toBe(false);
    expect(seqNewer(7, 7)).toBe(false);
    expect(seqAdd(65535, 2)).toBe(1);
  });

  it('orders timestamps across the 32-bit wrap', () => {
    expect(tsDistance(100, 2 ** 32 - 60)).toBe(160);
    expect(tsNewer(100, 2 ** 32 - 60)).toBe(true);
    expect(tsNewer(2 ** 32 - 60, 100)).toBe(false);
    expect(tsAdd(2 ** 32 - 60, 160)).toBe(100);
  });
});
