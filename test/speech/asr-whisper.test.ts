import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsrBusyError, WhisperSetupError, createAsr } from '../../src/speech/asr/index.js';
import { audioCtxFor, recognitionFrom } from '../../src/speech/asr/whisper-cpp.js';
import { asrConfig } from '../../src/speech/config.js';
import type { Asr, AsrResult } from '../../src/speech/types.js';
import { STUB_WHISPER, energyBoundaries, loadClips, waitFor, type Clip } from './helpers.js';

const logger = pino({ level: 'silent' });

function stubConfig(overrides: Record<string, unknown> = {}) {
  return asrConfig.parse({
    provider: 'whisper-cpp',
    whisperCpp: { modelPath: STUB_WHISPER, autoDownload: false, threads: 1, ...overrides },
  });
}

async function collect(results: AsyncIterable<AsrResult>): Promise<AsrResult[]> {
  const out: AsrResult[] = [];
  for await (const r of results) out.push(r);
  return out;
}

async function* once(pcm: Int16Array): AsyncGenerator<Int16Array> {
  yield pcm;
}

function expectWellFormed(r: AsrResult, audioMs: number): void {
  expect(typeof r.text).toBe('string');
  expect(r.confidence).toBeGreaterThanOrEqual(0);
  expect(r.confidence).toBeLessThanOrEqual(1);
  expect(r.language).toBe('en');
  expect(Math.abs(r.timings.audioMs - audioMs)).toBeLessThanOrEqual(1);
  expect(r.timings.processingMs).toBeGreaterThan(0);
  expect(r.timings.queueMs).toBeGreaterThanOrEqual(0);
}

describe('whisper.cpp provider (weightless model: tiny.en encoder, one decode step, empty text)', () => {
  let asr: Asr;
  let clips: Clip[];
  let metrics: Registry;

  beforeAll(async () => {
    metrics = new Registry();
    asr = await createAsr(stubConfig({ parallelism: 2 }), logger, metrics);
    clips = loadClips();
  });
  afterAll(async () => {
    await asr.close();
  });

  it('transcribes every shared clip without error, one well-formed final each', async () => {
    // whole clips at once (no partials), two at a time through the shared model
    const all = await Promise.all(clips.map((clip) => collect(asr.transcribe(once(clip.pcm)))));
    all.forEach((results, i) => {
      const clip = clips[i] as Clip;
      expect(results, clip.name).toHaveLength(1);
      const final = results[0] as AsrResult;
      expect(final.final).toBe(true);
      expectWellFormed(final, clip.pcm.length / 16);
    });
    expect(await metrics.metrics()).toMatch(
      new RegExp(`voicebot_asr_results_total\\{provider="whisper-cpp",kind="final",outcome="ok"\\} ${clips.length}`),
    );
  });

  it('yields partial results while audio is still arriving, then exactly one final', async () => {
    const clip = clips.find((c) => c.name.includes('134686-0002')) ?? (clips[0] as Clip);
    const seen: AsrResult[] = [];
    let partialsBeforeEnd = 0;
    async function* live(): AsyncGenerator<Int16Array> {
      const second = 16_000;
      yield clip.pcm.subarray(0, second);
      // hold the rest back until the first partial has come out: it must not need the end of the stream
      await waitFor(() => seen.some((r) => !r.final), 10_000, 'a partial result');
      partialsBeforeEnd = seen.length;
      for (let i = second; i < clip.pcm.length; i += 3200) yield clip.pcm.subarray(i, i + 3200);
    }
    for await (const r of asr.transcribe(live())) seen.push(r);
    expect(partialsBeforeEnd).toBeGreaterThanOrEqual(1);
    expect(seen.filter((r) => r.final)).toHaveLength(1);
    expect(seen[seen.length - 1]?.final).toBe(true);
    for (const r of seen.filter((x) => !x.final)) expect(r.timings.audioMs).toBeLessThan(clip.pcm.length / 16);
    // the final runs on the speech and a short tail: the quiet end of the clip is left out
    const final = seen[seen.length - 1] as AsrResult;
    expect(final.timings.audioMs).toBeLessThanOrEqual(clip.pcm.length / 16);
    expect(final.timings.audioMs).toBeGreaterThanOrEqual(energyBoundaries(clip.pcm).endMs);
    expectWellFormed(final, final.timings.audioMs);
  });

  it('gives an empty final for an empty stream without touching the model', async () => {
    const results = await collect(asr.transcribe(once(new Int16Array(0))));
    expect(results).toEqual([expect.objectContaining({ text: '', final: true, confidence: 0, language: 'en' })]);
  });

  it('stops when its signal aborts and keeps serving other calls', async () => {
    const abort = new AbortController();
    async function* endless(): AsyncGenerator<Int16Array> {
      for (;;) {
        yield new Int16Array(1600);
        if (abort.signal.aborted) return;
        await new Promise<void>((r) => setImmediate(r));
      }
    }
    const run = collect(asr.transcribe(endless(), { signal: abort.signal }));
    abort.abort(new Error('caller hung up'));
    await expect(run).rejects.toThrow(/hung up/);
    const after = await collect(asr.transcribe(once((clips[0] as Clip).pcm.subarray(0, 16_000))));
    expect(after[0]?.final).toBe(true);
  });
});

describe('whisper.cpp shared queue', () => {
  it('refuses work beyond the queue limit with a clear error, and finishes the rest', async () => {
    const asr = await createAsr(stubConfig({ parallelism: 1, queueLimit: 1 }), logger, new Registry());
    try {
      const pcm = (loadClips()[0] as Clip).pcm.subarray(0, 32_000);
      const settled = await Promise.allSettled([0, 1, 2, 3].map(() => collect(asr.transcribe(once(pcm)))));
      const refused = settled.filter((s) => s.status === 'rejected');
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const r of refused) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(AsrBusyError);
        expect(String((r as PromiseRejectedResult).reason)).toMatch(/queue full/);
      }
      expect(settled.filter((s) => s.status === 'fulfilled').length).toBeGreaterThanOrEqual(2);
    } finally {
      await asr.close();
    }
  });
});

describe('whisper.cpp model problems give clear errors (the process stays up)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'whisper-model-'));

  it('missing model: names the file and the download command', async () => {
    const cfg = asrConfig.parse({ whisperCpp: { model: 'tiny.en', modelDir: dir, autoDownload: false } });
    const err = await createAsr(cfg, logger, new Registry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperSetupError);
    expect(String(err)).toContain(join(dir, 'ggml-tiny.en.bin'));
    expect(String(err)).toContain('voicebot models download tiny.en');
  });

  it('not a ggml file: refused before whisper.cpp sees it', async () => {
    const path = join(dir, 'garbage.bin');
    writeFileSync(path, Buffer.alloc(4096, 0x41));
    const err = await createAsr(stubConfig({ modelPath: path }), logger, new Registry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperSetupError);
    expect(String(err)).toMatch(/not a ggml whisper model/);
  });

  it('truncated catalog model: wrong size is reported', async () => {
    const path = join(dir, 'ggml-base.en.bin');
    copyFileSync(STUB_WHISPER, path);
    const cfg = asrConfig.parse({ whisperCpp: { model: 'base.en', modelDir: dir, autoDownload: false } });
    const err = await createAsr(cfg, logger, new Registry()).catch((e: unknown) => e);
    expect(String(err)).toMatch(/has \d+ bytes, expected 147964211/);
  });

  it('ggml header with a broken body: loaded in a throw-away process first, which fails, not us', async () => {
    const path = join(dir, 'broken.bin');
    writeFileSync(path, Buffer.concat([Buffer.from('lmgg', 'latin1'), Buffer.alloc(8192, 0xff)]));
    const err = await createAsr(stubConfig({ modelPath: path }), logger, new Registry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperSetupError);
    expect(String(err)).toMatch(/could not load model file .*broken\.bin/);
  });

  it('device cuda with a CPU build says how to build for CUDA', async () => {
    const err = await createAsr(stubConfig({ device: 'cuda' }), logger, new Registry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WhisperSetupError);
    expect(String(err)).toContain('build-whisper.mjs --cuda');
  });
});

describe('whisper.cpp helpers', () => {
  it('scales audio_ctx with the utterance, with a floor and the 30 s ceiling', () => {
    expect(audioCtxFor(1000, 256)).toBe(256);
    expect(audioCtxFor(10_000, 256)).toBe(532);
    expect(audioCtxFor(60_000, 256)).toBe(1500);
    expect(audioCtxFor(3000, 64)).toBe(182);
  });

  it('takes confidence from text tokens only and the language whisper detected', () => {
    const r = recognitionFrom(
      [
        {
          text: ' Hello',
          lang: 'de',
          tokens: [
            { text: '[_BEG_]', p: 0.1 },
            { text: ' Hello', p: 0.9 },
            { text: '<|endoftext|>', p: 0.2 },
          ],
        },
        { text: ' world.', tokens: [{ text: ' world', p: 0.7 }] },
      ],
      'en',
    );
    expect(r.text).toBe('Hello world.');
    expect(r.confidence).toBeCloseTo(0.8, 5);
    expect(r.language).toBe('de');
    expect(recognitionFrom([], 'en')).toEqual({ text: '', confidence: 0, language: 'en' });
  });
});
