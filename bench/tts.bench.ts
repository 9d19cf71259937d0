/**
 * TTS bench (espeak-ng): time from synthesize() to the first audio chunk, real-time factor (synthesis wall time
 * over audio length) for fresh sentences, and the first-audio time of a cached prompt.
 * Targets: first audio ≤ 80 ms, cached ≤ 5 ms.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ttsConfig } from '../src/speech/config.js';
import { createTts } from '../src/speech/tts/index.js';
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
