import { readFileSync, statSync } from 'node:fs';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countTokens,
  ensureBenchModel,
  tensorSpecs,
  tokensPerSecondOfSpeech,
} from '../../scripts/bench-whisper-model.js';
import { createAsr } from '../../src/speech/asr/index.js';
import { maxTokensFor } from '../../src/speech/asr/whisper-cpp.js';
import { WHISPER_MODELS } from '../../src/speech/models/catalog.js';
import { asrConfig } from '../../src/speech/config.js';
import type { Asr, AsrResult } from '../../src/speech/types.js';
import { STUB_WHISPER, loadClips } from './helpers.js';

const logger = pino({ level: 'silent' });

async function finalOf(asr: Asr, pcm: Int16Array): Promise<AsrResult> {
  async function* once(): AsyncGenerator<Int16Array> {
    yield pcm;
  }
  let final: AsrResult | undefined;
  for await (const r of asr.transcribe(once())) if (r.final) final = r;
  if (!final) throw new Error('no final result');
  return final;
}

describe('bench whisper models (scripts/bench-whisper-model.ts)', () => {
  it('lays out tiny.en and base.en tensor for tensor as the published files (their byte sizes match)', () => {
    const stubBytes = statSync(STUB_WHISPER).size;
    for (const shape of ['tiny.en', 'base.en'] as const) {
      const specs = tensorSpecs(shape, { nVocab: 51864, nAudioCtx: 1500, nTextCtx: 448, nMels: 80 });
      const bytes = specs.reduce(
        (n, t) => n + 12 + 4 * t.ne.length + t.name.length + t.ne.reduce((a, b) => a * b, 1) * (t.type ? 2 : 4),
        stubBytes,
      );
      // 601: the test model's vocabulary stores 352 partial-UTF-8 tokens as U+FFFD (see STUB_VOCAB_EXTRA_BYTES)
      expect(bytes - 601).toBe(WHISPER_MODELS[shape]!.bytes);
    }
  });

  it('takes the token rate from the shared transcripts: a plausible English speaking rate', async () => {
    const { rate, tokens, seconds } = await tokensPerSecondOfSpeech();
    expect(seconds).toBeGreaterThan(60);
    expect(tokens).toBeGreaterThan(150);
    expect(rate).toBeGreaterThan(2);
    expect(rate).toBeLessThan(4.5);
    const vocab = new Set([' And', ' so', ' my', ' fellow', ' Americans', ',']);
    expect(countTokens(' And so my fellow Americans,', vocab, 10)).toBe(6);
  });

  describe('tiny.en shape through the product engine', () => {
    let capped: Asr;
    let uncapped: Asr;
    const rate = 3;
    beforeAll(async () => {
      const modelPath = ensureBenchModel('tiny.en');
      const cfg = (maxTokensPerSecond: number) =>
        asrConfig.parse({
          whisperCpp: { modelPath, autoDownload: false, threads: 1, parallelism: 1, maxTokensPerSecond },
        });
      capped = await createAsr(cfg(rate), logger, new Registry());
      uncapped = await createAsr(cfg(0), logger, new Registry());
    }, 60_000);
    afterAll(async () => {
      await capped?.close();
      await uncapped?.close();
    });

    it('decodes exactly the capped number of steps, where the weightless model decodes one', async () => {
      const clip = loadClips().find((c) => c.name === 'jfk.wav')!;
      const pcm = clip.pcm.subarray(0, 3 * 16_000);
      const r = await finalOf(capped, pcm);
      // max_tokens = 9 for 3 s at 3 tokens/s: whisper.cpp samples 10 tokens (9 text steps and the final step)
      expect(maxTokensFor(3000, rate)).toBe(9);
      expect(r.timings.decodedTokens).toBe(10);
      expect(r.text.length).toBeGreaterThan(0);
      const free = await finalOf(uncapped, pcm);
      // uncapped, random weights run to whisper.cpp's own per-request limit
      expect(free.timings.decodedTokens).toBeGreaterThan(100);
      expect(free.timings.processingMs).toBeGreaterThan(r.timings.processingMs);
    }, 60_000);

    it('the weightless test model is plumbing only: it decodes a single step', async () => {
      const stub = await createAsr(
        asrConfig.parse({ whisperCpp: { modelPath: STUB_WHISPER, autoDownload: false, threads: 1 } }),
        logger,
        new Registry(),
      );
      try {
        const r = await finalOf(stub, loadClips()[0]!.pcm.subarray(0, 16_000));
        expect(r.timings.decodedTokens).toBeLessThanOrEqual(1);
      } finally {
        await stub.close();
      }
      expect(readFileSync(STUB_WHISPER).length).toBeLessThan(1_000_000);
    }, 60_000);
  });
});
