import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { WavError, readWav, readWavFile, writeWav } from '../../src/media/wav.js';
import { mulawDecode, mulawEncode } from '../../src/media/g711.js';
import { clip } from '../helpers/fixtures.js';

const samples = Int16Array.from({ length: 1001 }, (_, i) => Math.round(12000 * Math.sin(i / 7)));

function chunk(id: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function fmt(tag: number, channels: number, rate: number, bits: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(tag, 0);
  b.writeUInt16LE(channels, 2);
  b.writeUInt32LE(rate, 4);
  b.writeUInt32LE((rate * channels * bits) / 8, 8);
  b.writeUInt16LE((channels * bits) / 8, 12);
  b.writeUInt16LE(bits, 14);
  return b;
}

function riff(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('WAV', () => {
  it('round-trips PCM16 exactly', () => {
    const wav = readWav(writeWav(samples, 16000));
    expect(wav).toMatchObject({ sampleRate: 16000, channels: 1, format: 'pcm16' });
    expect(wav.samples).toEqual(samples);
  });

  it('round-trips μ-law (format 7, fact chunk, odd data size with pad byte)', () => {
    const buf = writeWav(samples, 8000, 'mulaw');
    expect(buf.readUInt16LE(20)).toBe(7);
    expect(buf.length % 2).toBe(0);
    const wav = readWav(buf);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1, format: 'mulaw' });
    expect(wav.samples).toEqual(mulawDecode(mulawEncode(samples)));
  });

  it('skips LIST and odd-sized chunks before data', () => {
    const data = Buffer.from(Int16Array.of(1, -2, 3).buffer);
    const buf = riff(
      chunk('fmt ', fmt(1, 1, 8000, 16)),
      chunk('LIST', Buffer.from('INFOISFT', 'latin1')),
      chunk('junk', Buffer.alloc(3, 0x41)),
      chunk('data', data),
    );
    expect([...readWav(buf).samples]).toEqual([1, -2, 3]);
  });

  it('reads A-law and stereo, keeping channels interleaved', () => {
    const alaw = readWav(riff(chunk('fmt ', fmt(6, 1, 8000, 8)), chunk('data', Buffer.from([0xd5, 0x55]))));
    expect(alaw.format).toBe('alaw');
    expect([...alaw.samples]).toEqual([8, -8]);
    const stereo = readWav(
      riff(chunk('fmt ', fmt(1, 2, 8000, 16)), chunk('data', Buffer.from(Int16Array.of(1, 2, 3, 4).buffer))),
    );
    expect(stereo.channels).toBe(2);
    expect([...stereo.samples]).toEqual([1, 2, 3, 4]);
  });

  it('reads a WAVE_FORMAT_EXTENSIBLE PCM header', () => {
    const ext = Buffer.alloc(40);
    fmt(1, 1, 16000, 16).copy(ext);
    ext.writeUInt16LE(0xfffe, 0);
    ext.writeUInt16LE(22, 16);
    ext.writeUInt16LE(1, 24); // sub-format GUID starts with PCM's tag
    const wav = readWav(riff(chunk('fmt ', ext), chunk('data', Buffer.from(Int16Array.of(5).buffer))));
    expect([...wav.samples]).toEqual([5]);
  });

  it('reads streamed WAVs whose data size is a placeholder (espeak-ng --stdout)', () => {
    const buf = execFileSync('espeak-ng', ['-v', 'en-us', '--stdout', 'hello']);
    expect(buf.readUInt32LE(40)).toBeGreaterThan(buf.length); // the placeholder this case is about
    const wav = readWav(buf);
    expect(wav.sampleRate).toBe(22050);
    expect(wav.samples.length).toBe((buf.length - 44) / 2);
    expect(wav.samples.some((s) => Math.abs(s) > 1000)).toBe(true);
  });

  it('reads the shared 16 kHz test audio (LIST chunk before data)', async () => {
    const wav = await readWavFile(clip('jfk.wav'));
    expect(wav.sampleRate).toBe(16000);
    expect(wav.samples.length).toBeGreaterThan(16000);
  });

  it.each([
    ['truncated', Buffer.from('RIFF', 'latin1'), /truncated/],
    ['not RIFF', Buffer.concat([Buffer.from('OggS', 'latin1'), Buffer.alloc(40)]), /not a RIFF file/],
    ['not WAVE', riff().fill('A', 8, 12), /not WAVE/],
    ['no fmt', riff(chunk('data', Buffer.alloc(4))), /data chunk comes before the fmt/],
    ['no data', riff(chunk('fmt ', fmt(1, 1, 8000, 16))), /no data chunk/],
    ['cut fmt', riff(chunk('fmt ', fmt(1, 1, 8000, 16))).subarray(0, 30), /truncated inside the fmt/],
    [
      'float',
      riff(chunk('fmt ', fmt(3, 1, 8000, 32)), chunk('data', Buffer.alloc(8))),
      /unsupported WAV encoding: format tag 3/,
    ],
    ['8-bit PCM', riff(chunk('fmt ', fmt(1, 1, 8000, 8)), chunk('data', Buffer.alloc(8))), /unsupported WAV encoding/],
  ])('rejects a bad header with a clear WavError: %s', (_name, buf, message) => {
    expect(() => readWav(buf)).toThrow(WavError);
    expect(() => readWav(buf)).toThrow(message);
  });

  it('names the file in errors from readWavFile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wav-'));
    try {
      const path = join(dir, 'bad.wav');
      await writeFile(path, 'hello world, not audio');
      await expect(readWavFile(path)).rejects.toThrow(`${path}: not a RIFF file`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
