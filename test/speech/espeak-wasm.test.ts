import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { findProgram } from '../../src/core/programs.js';
import { concatPcm } from '../../src/media/pcm.js';
import { energyDb } from '../../src/speech/audio.js';
import { ttsConfig } from '../../src/speech/config.js';
import { createTts, espeakEngine } from '../../src/speech/tts/index.js';
import { EspeakWasmProvider } from '../../src/speech/tts/espeak-wasm.js';
import { EspeakProvider } from '../../src/speech/tts/espeak.js';
import type { TtsProvider } from '../../src/speech/tts/provider.js';
import type { TtsChunk } from '../../src/speech/types.js';

const logger = pino({ level: 'silent' });
const TEXT = 'Hello, you are speaking with the automated assistant of the service desk.';
const espeakCfg = (over: Record<string, unknown> = {}) => ttsConfig.parse({ espeak: over }).espeak;

const open: TtsProvider[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.close()));
});

async function speak(provider: TtsProvider, text: string, signal = new AbortController().signal): Promise<TtsChunk[]> {
  const out: TtsChunk[] = [];
  for await (const chunk of provider.synthesize({ text, signal })) out.push(chunk);
  return out;
}

describe('espeak-ng WebAssembly fallback', () => {
  it('auto picks the program when it is on PATH and the npm build when it is not', () => {
    expect(espeakEngine(espeakCfg(), { PATH: '/nonexistent' })).toBe('wasm');
    expect(espeakEngine(espeakCfg({ binary: '/nonexistent/espeak-ng' }))).toBe('wasm');
    expect(espeakEngine(espeakCfg({ engine: 'binary' }), { PATH: '/nonexistent' })).toBe('binary');
    if (findProgram('espeak-ng')) expect(espeakEngine(espeakCfg())).toBe('binary');
  });

  it('the default voice speaks without the espeak-ng program: 22.05 kHz speech through the Tts port', async () => {
    const tts = createTts(
      ttsConfig.parse({ espeak: { binary: '/nonexistent/espeak-ng' }, cacheEntries: 0 }),
      logger,
      new Registry(),
    );
    const chunks: TtsChunk[] = [];
    for await (const c of tts.synthesize(TEXT)) chunks.push(c);
    await tts.close();
    const pcm = concatPcm(chunks.map((c) => c.pcm));
    expect(new Set(chunks.map((c) => c.sampleRate))).toEqual(new Set([22_050]));
    const seconds = pcm.length / 22_050;
    expect(seconds).toBeGreaterThan(2.5); // ~4 s of speech at 175 words per minute
    expect(seconds).toBeLessThan(7);
    expect(energyDb(pcm)).toBeGreaterThan(-40); // speech, not silence
  });

  it.skipIf(!findProgram('espeak-ng'))('sounds like the program: same rate, same length within 10 %', async () => {
    const wasm = new EspeakWasmProvider(espeakCfg());
    const binary = new EspeakProvider(espeakCfg());
    open.push(wasm, binary);
    const a = concatPcm((await speak(wasm, TEXT)).map((c) => c.pcm));
    const b = concatPcm((await speak(binary, TEXT)).map((c) => c.pcm));
    expect(b.length).toBeGreaterThan(0);
    expect(Math.abs(a.length - b.length) / b.length).toBeLessThan(0.1);
    expect(Math.abs(energyDb(a) - energyDb(b))).toBeLessThan(3);
  });

  it('an abort stops the sentence at once and the engine serves the next one', async () => {
    const wasm = new EspeakWasmProvider(espeakCfg());
    open.push(wasm);
    const ac = new AbortController();
    let got = 0;
    for await (const chunk of wasm.synthesize({ text: TEXT + ' ' + TEXT, signal: ac.signal })) {
      got += chunk.pcm.length;
      ac.abort();
    }
    expect(got).toBeGreaterThan(0);
    expect(got).toBeLessThan(22_050); // one chunk, not the ~8 s sentence
    const next = concatPcm((await speak(wasm, 'Goodbye.')).map((c) => c.pcm));
    expect(next.length).toBeGreaterThan(22_050 * 0.3);
  });

  it('a sentence over timeoutMs fails with a TtsError naming the limit', async () => {
    const wasm = new EspeakWasmProvider(espeakCfg({ timeoutMs: 100 }));
    open.push(wasm);
    await wasm.ready;
    const long = Array.from({ length: 40 }, () => TEXT).join(' ');
    await expect(speak(wasm, long)).rejects.toThrow(/took longer than 100 ms/);
  });

  it('an unknown voice is a TtsError naming it', async () => {
    const wasm = new EspeakWasmProvider(espeakCfg({ voice: 'xx-nope' }));
    open.push(wasm);
    await expect(speak(wasm, 'Hello.')).rejects.toThrow(/unknown espeak-ng voice "xx-nope"/);
  });
});
