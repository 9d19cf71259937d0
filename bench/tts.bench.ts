/**
 * TTS bench (espeak-ng): time from synthesize() to the first audio chunk, real-time factor (synthesis wall time
 * over audio length) for fresh sentences, and the first-audio time of a cached prompt.
 * Targets: first audio ≤ 80 ms, cached ≤ 5 ms.
 * Then the two espeak-ng engines side by side (the program through the spawn broker, the npm WebAssembly build in its
 * worker), interleaved sentence by sentence in one run so both see the same load; skipped without the program.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ttsConfig } from '../src/speech/config.js';
import { createTts } from '../src/speech/tts/index.js';
import { findProgram } from '../src/core/programs.js';
import type { Tts } from '../src/speech/types.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'tts';
const SENTENCES = [
  'Thank you for calling the service desk.',
  'I have opened ticket number four hundred and twelve for you.',
  'Could you tell me the name of the product, please?',
  'One moment, I am connecting you to a colleague.',
  'Your invoice was sent on the third of March.',
  'Is there anything else I can help you with today?',
  'Please say yes or no.',
  'I did not catch that, could you repeat it?',
  'Our opening hours are from eight to six.',
  'Goodbye and have a nice day.',
];

async function measure(tts: Tts, text: string): Promise<{ first: number; total: number; audioMs: number }> {
  const t = performance.now();
  let first = -1;
  let samples = 0;
  let rate = 1;
  for await (const chunk of tts.synthesize(text)) {
    if (first < 0) first = performance.now() - t;
    samples += chunk.pcm.length;
    rate = chunk.sampleRate;
  }
  return { first, total: performance.now() - t, audioMs: (samples * 1000) / rate };
}

const logger = pino({ level: 'silent' });
const fresh = createTts(ttsConfig.parse({ cacheEntries: 0 }), logger, new Registry());
await measure(fresh, 'Warm up.');
const firsts: number[] = [];
const rtfs: number[] = [];
for (let rep = 0; rep < sized(2, 1); rep++) {
  for (const s of sized(SENTENCES, SENTENCES.slice(0, 2))) {
    const m = await measure(fresh, s);
    firsts.push(m.first);
    rtfs.push(m.total / m.audioMs);
  }
}
figure(BENCH, 'espeak_first_audio_p50', percentile(firsts, 0.5), 'ms', { target: 80, requests: firsts.length });
figure(BENCH, 'espeak_first_audio_p90', percentile(firsts, 0.9), 'ms', { target: 80 });
figure(BENCH, 'espeak_rtf_p50', percentile(rtfs, 0.5), 'ratio');

const cached = createTts(ttsConfig.parse({}), logger, new Registry());
await measure(cached, SENTENCES[0] as string);
const hits: number[] = [];
for (let i = 0; i < sized(200, 10); i++) hits.push((await measure(cached, SENTENCES[0] as string)).first);
figure(BENCH, 'cached_first_audio_p50', percentile(hits, 0.5), 'ms', { target: 5, requests: hits.length });
figure(BENCH, 'cached_first_audio_p99', percentile(hits, 0.99), 'ms', { target: 5 });

if (findProgram('espeak-ng')) {
  const engines = {
    binary: createTts(ttsConfig.parse({ cacheEntries: 0, espeak: { engine: 'binary' } }), logger, new Registry()),
    wasm: createTts(ttsConfig.parse({ cacheEntries: 0, espeak: { engine: 'wasm' } }), logger, new Registry()),
  };
  // first request of each pays its start-up (broker fork, wasm load): reported apart from the steady state
  const startup = {
    binary: (await measure(engines.binary, 'Warm up.')).first,
    wasm: (await measure(engines.wasm, 'Warm up.')).first,
  };
  const byEngine = { binary: [] as number[], wasm: [] as number[] };
  const rtf = { binary: [] as number[], wasm: [] as number[] };
  for (let rep = 0; rep < sized(3, 1); rep++) {
    for (const [i, s] of sized(SENTENCES, SENTENCES.slice(0, 2)).entries()) {
      // alternate which engine goes first, so neither always runs right after the other's CPU burst
      const order = (i + rep) % 2 === 0 ? (['binary', 'wasm'] as const) : (['wasm', 'binary'] as const);
      for (const engine of order) {
        const m = await measure(engines[engine], s);
        byEngine[engine].push(m.first);
        rtf[engine].push(m.total / m.audioMs);
      }
    }
  }
  for (const engine of ['binary', 'wasm'] as const) {
    const extra = { engine, requests: byEngine[engine].length, startupFirstAudioMs: startup[engine] };
    figure(BENCH, `espeak_${engine}_first_audio_p50`, percentile(byEngine[engine], 0.5), 'ms', extra);
    figure(BENCH, `espeak_${engine}_first_audio_p90`, percentile(byEngine[engine], 0.9), 'ms', { engine });
    figure(BENCH, `espeak_${engine}_rtf_p50`, percentile(rtf[engine], 0.5), 'ratio', { engine });
  }
  figure(
    BENCH,
    'espeak_wasm_vs_binary_first_audio_p50_ratio',
    percentile(byEngine.wasm, 0.5) / percentile(byEngine.binary, 0.5),
    'ratio',
  );
  await Promise.all([engines.binary.close(), engines.wasm.close()]);
}
