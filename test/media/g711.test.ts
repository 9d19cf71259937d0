import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import { ALAW_SILENCE, MULAW_SILENCE, alawDecode, alawEncode, mulawDecode, mulawEncode } from '../../src/media/g711.js';

const allCodes = Uint8Array.from({ length: 256 }, (_, i) => i);
const allSamples = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);

describe('G.711 μ-law', () => {
  it('encodes silence as 0xFF and full scale as 0x80 / 0x00 (ITU-T G.711)', () => {
    expect(MULAW_SILENCE).toBe(0xff);
    expect([...mulawEncode(Int16Array.of(0, 32767, -32768))]).toEqual([0xff, 0x80, 0x00]);
  });

  it('decodes the ITU-T G.711 reference values', () => {
    // 0xFF / 0x7F are ±0; 0x80 / 0x00 are ±32124 (segment 7, step 15); 0xEF is segment 1 step 0 (132); 0xFE is 8
    expect([...mulawDecode(Uint8Array.of(0xff, 0x7f, 0x80, 0x00, 0xef, 0xfe))]).toEqual([0, 0, 32124, -32124, 132, 8]);
  });

  it('round-trips all 256 codes decode → encode (except negative zero 0x7F → 0xFF)', () => {
    const back = mulawEncode(mulawDecode(allCodes));
    for (let c = 0; c < 256; c++) expect(back[c]).toBe(c === 0x7f ? 0xff : c);
  });

  it('matches alawmulaw on every 16-bit sample and every code', () => {
    expect(mulawEncode(allSamples)).toEqual(Uint8Array.from(alawmulaw.mulaw.encode(allSamples)));
    expect(mulawDecode(allCodes)).toEqual(alawmulaw.mulaw.decode(allCodes));
  });

  it('writes into a caller buffer and rejects one that is too small', () => {
    const out = new Uint8Array(4);
    const r = mulawEncode(Int16Array.of(0, 0), out);
    expect(r.length).toBe(2);
    expect(r.buffer).toBe(out.buffer);
    expect(() => mulawEncode(new Int16Array(5), out)).toThrow(RangeError);
  });
});

describe('G.711 A-law', () => {
  it('encodes silence as 0xD5 and full scale as 0xAA / 0x2A (ITU-T G.711)', () => {
    expect(ALAW_SILENCE).toBe(0xd5);
    expect([...alawEncode(Int16Array.of(0, 32767, -32768))]).toEqual([0xd5, 0xaa, 0x2a]);
  });

  it('decodes the ITU-T reference values', () => {
    // 0xD5 / 0x55 are the smallest steps ±8; 0xAA / 0x2A are ±32256
    expect([...alawDecode(Uint8Array.of(0xd5, 0x55, 0xaa, 0x2a))]).toEqual([8, -8, 32256, -32256]);
  });

  it('round-trips all 256 codes decode → encode', () => {
    expect(alawEncode(alawDecode(allCodes))).toEqual(allCodes);
  });

  it('matches alawmulaw on every 16-bit sample and every code', () => {
    expect(alawEncode(allSamples)).toEqual(Uint8Array.from(alawmulaw.alaw.encode(allSamples)));
    expect(alawDecode(allCodes)).toEqual(alawmulaw.alaw.decode(allCodes));
  });
});
