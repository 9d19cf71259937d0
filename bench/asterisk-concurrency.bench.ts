/**
 * Asterisk concurrency: N simultaneous calls through the ARI + RTP emulator on loopback, each a full bot
 * (real Silero VAD, real whisper.cpp on a random-weight model with base.en's exact shape, decoding capped at a
 * trained model's token rate (bench/lib/whisper-model.ts), real espeak-ng, rules NLU). Raises N until p95 turn
 * latency exceeds 1 s or the bot's outgoing audio starves; reports the largest N that held, and each round.
 *
 * Turn latency = from the clip's last voiced 20 ms frame leaving the caller to the first audible bot frame
 * arriving back at the caller (through Asterisk's emulated UnicastRTP leg); it includes the endpointer's
 * silence (speech.vad.endOfTurnSilenceMs, 500 ms by default). A turn the endpointer ended early at an inner
 * pause is counted as split, not measured. `transportP95Ms` is the backend's own share: from the reply's first
 * TTS chunk to its first audible frame at the caller (resampling, pacing, RTP both ways through the emulator). Random weights recognise no
 * words, so after recognition runs (timed) the dialog gets the clip's reference transcript (TurnAsr substitute).
 * Caller audio runs in real time for the clip's last second and the silence after it; earlier audio is sent
 * at once to keep the bench short.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { CallEventBus } from '../src/core/call-events.js';
import { createMetrics } from '../src/core/metrics.js';
import { runCall } from '../src/dialog/call-core.js';
import { createLogger } from '../src/log/logger.js';
import { resample } from '../src/media/resampler.js';
import { readWavFile } from '../src/media/wav.js';
import { MemorySessionStore } from '../src/session/memory-store.js';
import { createSpeech } from '../src/speech/index.js';
import type { Tts, TtsOptions, Vad, VadEvent, VadFactory } from '../src/speech/types.js';
import { createAsteriskBackend } from '../src/telephony/asterisk/backend.js';
import { TurnAsr } from '../src/telephony/simulate/turn-asr.js';
import type { CallRecord, CallRecordEvent } from '../src/core/call-record.js';
import { startAriEmulator, ulawDecode, ulawEncode, type Party } from '../test/emulators/ari/index.js';
import { emulatorConnection } from '../test/asterisk/helpers.js';
import { figure, percentile } from './lib/figure.js';
import { TRANSCRIPTS_TSV, VAD_MODEL, clip } from '../test/helpers/fixtures.js';
import { SMOKE, sized } from './lib/smoke.js';
import { benchWhisper } from './lib/whisper-model.js';

const BENCH = 'asterisk-concurrency';
const ROUNDS = (process.env.ASTERISK_BENCH_N ?? sized('1,2,4,6,8,10,12,16', '1')).split(',').map(Number);
const TAIL_REALTIME_MS = 1000;
const SILENCE_AFTER_MS = 1500;
const P95_LIMIT_MS = 1000;
const AUDIBLE = 300;
// long enough for the default sweep to reach the target (10 calls) in both modes on 2 cores
const BUDGET_MS = sized(150_000, 20_000);
const whisper = await benchWhisper(SMOKE && !process.env.BENCH_WHISPER_SHAPE ? 'tiny.en' : undefined);
/** the clip before its last second goes faster than real time (bounded: a burst would overflow UDP buffers) */
const HEAD_SPEED = 5;

interface Clip {
  reference: string;
  pcm8k: Int16Array;
  /** index of the last voiced 20 ms frame */
  lastVoiced: number;
}

function peak(pcm: Int16Array): number {
  let m = 0;
  for (const s of pcm) m = Math.max(m, Math.abs(s));
  return m;
}

/** Voiced 20 ms frames: within 35 dB of the loudest one (as heard through μ-law). */
function voicedFrames(pcm: Int16Array): boolean[] {
  const heard = ulawDecode(ulawEncode(pcm));
  const rms: number[] = [];
  for (let at = 0; at + 160 <= heard.length; at += 160) {
    let sum = 0;
    for (let i = at; i < at + 160; i++) sum += heard[i]! * heard[i]!;
    rms.push(Math.sqrt(sum / 160));
  }
  const threshold = Math.max(Math.max(...rms) * 10 ** (-35 / 20), 60);
  return rms.map((r) => r >= threshold);
}

/** One utterance per clip as the bot's VAD hears it (through μ-law, back at 16 kHz) followed by silence. */
function vadUtterances(pcm8k: Int16Array): number {
  const vad = speech.vad.create();
  const heard = resample(ulawDecode(ulawEncode(pcm8k)), 8000, 16000);
  let ends = 0;
  const step = 320;
  const audio = new Int16Array(heard.length + 16000);
  audio.set(heard);
  for (let at = 0; at < audio.length; at += step) {
    ends += vad.push(audio.subarray(at, at + step)).filter((e) => e.type === 'speechEnd').length;
  }
  vad.close();
  return ends;
}

async function loadClips(): Promise<Clip[]> {
  const lines = readFileSync(TRANSCRIPTS_TSV, 'utf8').trim().split('\n');
  const clips: Clip[] = [];
  for (const line of lines) {
    const [file, reference] = line.split('\t') as [string, string];
    const wav = await readWavFile(clip(file));
    const pcm8k = resample(wav.samples, wav.sampleRate, 8000);
    // a pause the endpointer takes for the end of the turn would split it: one turn = one utterance
    if (vadUtterances(pcm8k) !== 1) continue;
    clips.push({ reference, pcm8k, lastVoiced: voicedFrames(pcm8k).lastIndexOf(true) });
  }
  if (clips.length === 0) throw new Error('no clip the VAD hears as one utterance');
  return clips;
}

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!pred()) {
    if (performance.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Bot finished its greeting: audible audio heard, then 400 ms without any. */
function greetingDone(p: Party): boolean {
  const audible = p.received.filter((c) => peak(c.pcm) > AUDIBLE);
  const last = audible[audible.length - 1];
  return last !== undefined && performance.now() - last.at > 400;
}

const emu = await startAriEmulator();
const config = loadConfig({
  env: {},
  overrides: {
    log: { level: 'warn', format: 'json' },
    telephony: {
      backend: 'asterisk',
      asterisk: emulatorConnection(emu, 41000, 41199),
    },
    speech: {
      // sessions for the largest round built at start-up, as a deployment sized for its peak would
      vad: { modelPath: VAD_MODEL, prewarmSessions: Math.max(...ROUNDS) },
      asr: { whisperCpp: { modelPath: whisper.modelPath, maxTokensPerSecond: whisper.maxTokensPerSecond } },
      tts: { cacheEntries: 0 },
    },
    dialog: { greeting: 'Hello.', maxLowConfidenceTurns: 1000 },
    // the endpointer's silence is part of every turn's latency; 500 ms is the default
  },
});
const logger = createLogger(config.log, pino.destination(2));
const metrics = createMetrics(false);
const speech = await createSpeech(config, logger, metrics);
const clips = await loadClips();
if (process.env.BENCH_DEBUG) console.error(`${clips.length} clips heard as one utterance`);
const turnAsrs = new Map<string, TurnAsr>();
/** per call: the VAD's end-of-utterance events (endMs in the call's audio time, `at` wall clock) */
const speechEnds = new Map<string, Array<{ endMs: number; at: number }>>();
/** per call: wall time of each synthesis' first audio chunk */
const ttsFirstChunks = new Map<string, number[]>();
function timedTts(callId: string): Tts {
  const firsts: number[] = [];
  ttsFirstChunks.set(callId, firsts);
  return {
    async *synthesize(text: string, options?: TtsOptions) {
      let first = true;
      for await (const chunk of speech.tts.synthesize(text, options)) {
        if (first) firsts.push(performance.now());
        first = false;
        yield chunk;
      }
    },
    close: () => Promise.resolve(),
  };
}

function timedVad(callId: string): VadFactory {
  return {
    create(): Vad {
      const vad = speech.vad.create();
      const ends: Array<{ endMs: number; at: number }> = [];
      speechEnds.set(callId, ends);
      return {
        push(pcm: Int16Array): VadEvent[] {
          const events = vad.push(pcm);
          for (const e of events) if (e.type === 'speechEnd') ends.push({ endMs: e.endMs, at: performance.now() });
          return events;
        },
        get speaking() {
          return vad.speaking;
        },
        reset: () => vad.reset(),
        close: () => vad.close(),
      };
    },
  };
}
/** substitute: whisper runs (timed) on every turn; inject: recognition skipped, to measure the rest of the path */
let asrMode: 'substitute' | 'inject' = 'substitute';
const pending = new Map<string, string>(); // caller channel id → reference text for its turn
const nullSink = { submit: (_e: CallRecordEvent, _r: CallRecord) => Promise.resolve() };
const backend = createAsteriskBackend(config, {
  logger,
  metrics,
  sessions: new MemorySessionStore(config.session.ttlSeconds),
  onCall: async (leg) => {
    const asr = new TurnAsr(speech.asr);
    asr.setTurn(0, { mode: asrMode, text: pending.get(leg.id) ?? 'hello' });
    turnAsrs.set(leg.id, asr);
    await runCall(leg, {
      config,
      logger,
      vad: timedVad(leg.id),
      asr,
      tts: timedTts(leg.id),
      records: nullSink,
      sessions: new MemorySessionStore(config.session.ttlSeconds),
      events: new CallEventBus(),
      metrics,
    });
  },
});
await backend.start();

interface Round {
  n: number;
  latencies: number[];
  failedTurns: number;
  splitTurns: number;
  gaps: number;
  skipped: number;
  underruns: number;
  lateP99: number;
  /** first TTS chunk → first audible frame at the caller, ms */
  transport: number[];
}

async function oneCall(i: number, round: Round): Promise<void> {
  const clip = clips[i % clips.length]!;
  const party = await emu.placeCall({ from: `+1555000${String(i).padStart(4, '0')}` });
  pending.set(party.channelId, clip.reference);
  if (!(await until(() => greetingDone(party), 10_000))) {
    if (process.env.BENCH_DEBUG) console.error(`call ${i}: no greeting`);
    round.failedTurns++;
    party.hangup();
    return;
  }
  // wall time each caller frame left the caller: the VAD's audio clock counts these frames
  const sentAt: number[] = [];
  const onFrame = () => sentAt.push(performance.now());
  party.on('frame', onFrame);
  const tailStart = Math.max(0, clip.pcm8k.length - (TAIL_REALTIME_MS * 8000) / 1000);
  await party.sendPcm(clip.pcm8k.subarray(0, tailStart), { speed: HEAD_SPEED });
  await party.sendPcm(clip.pcm8k.subarray(tailStart), { speed: 1 });
  const silence = party.sendSilence(SILENCE_AFTER_MS, { speed: 1 });
  // latency runs from the clip's last voiced frame leaving the caller to the first audible reply after the VAD's end
  const ends = () => speechEnds.get(party.channelId) ?? [];
  const gotEnd = await until(() => ends().length > 0, 5000);
  const end = ends()[0];
  const replied = () => end !== undefined && party.received.some((c) => c.at > end.at && peak(c.pcm) > AUDIBLE);
  const ok = gotEnd && (await until(replied, 5000));
  await silence;
  party.off('frame', onFrame);
  const voiceEndSent = sentAt[clip.lastVoiced];
  const asrResult = turnAsrs.get(party.channelId)?.results[0];
  if (asrResult && end && process.env.BENCH_DEBUG)
    console.error(
      `call ${i}: asr final ${Math.round(asrResult.at - end.at)} ms after the VAD end, processing ${Math.round(asrResult.timings.processingMs)} ms, queue ${Math.round(asrResult.timings.queueMs)} ms`,
    );
  if (ok && end && voiceEndSent !== undefined && end.at < voiceEndSent) {
    // the endpointer split the clip at an inner pause: this turn measures nothing
    if (process.env.BENCH_DEBUG)
      console.error(
        `call ${i}: split: VAD ends at ${ends()
          .map((e) => e.endMs)
          .join(',')} ms of audio; clip voiced until ${clip.lastVoiced * 20} ms of ${sentAt.length * 20} sent`,
      );
    round.splitTurns++;
  } else if (ok && end && voiceEndSent !== undefined) {
    const first = party.received.find((c) => c.at > end.at && peak(c.pcm) > AUDIBLE)!;
    round.latencies.push(first.at - voiceEndSent);
    // the backend's own share: first TTS chunk of the reply → first audible frame at the caller
    const tts = ttsFirstChunks.get(party.channelId)?.find((t) => t > end.at);
    if (tts !== undefined) round.transport.push(first.at - tts);
  } else {
    if (process.env.BENCH_DEBUG) console.error(`call ${i}: no turn end or no reply (ends ${ends().length})`);
    round.failedTurns++;
  }
  // let the reply play out, then read the bot's pacer figures before hanging up
  await until(() => greetingDone(party), 8000);
  const call = backend.calls.get(party.channelId);
  const stats = call?.mediaStats;
  if (stats) {
    round.gaps += stats.gaps;
    round.skipped += stats.pacer.skipped;
    round.underruns += stats.pacer.underruns;
    round.lateP99 = Math.max(round.lateP99, stats.pacer.lateP99);
  }
  party.hangup();
  await party.ended;
}

/** Raise N until a round fails the criterion; returns the largest N that held. */
async function sweep(label: string, budgetMs: number): Promise<number> {
  const started = performance.now();
  let best = 0;
  for (const n of ROUNDS) {
    if (performance.now() - started > budgetMs) break;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const round: Round = {
      n,
      latencies: [],
      failedTurns: 0,
      splitTurns: 0,
      gaps: 0,
      skipped: 0,
      underruns: 0,
      lateP99: 0,
      transport: [],
    };
    await Promise.all(Array.from({ length: n }, (_, i) => oneCall(i, round)));
    await until(() => backend.calls.size === 0, 5000);
    loop.disable();
    const p95 = percentile(round.latencies, 0.95);
    const held = round.failedTurns === 0 && p95 <= P95_LIMIT_MS && round.gaps === 0 && round.skipped === 0;
    figure(BENCH, `turn_latency_p95_${label}_n${n}`, p95, 'ms', {
      n,
      asr: label,
      p50: percentile(round.latencies, 0.5),
      transportP95Ms: percentile(round.transport, 0.95),
      turns: round.latencies.length,
      failedTurns: round.failedTurns,
      splitTurns: round.splitTurns,
      starvedGaps: round.gaps,
      skippedSlots: round.skipped,
      tailUnderruns: round.underruns,
      pacerLateP99Ms: round.lateP99,
      // event-loop stalls of the whole process (other load on the machine shows up here)
      eventLoopDelayP99Ms: loop.percentile(99) / 1e6,
      eventLoopDelayMaxMs: loop.max / 1e6,
      loadavg1: (await import('node:os')).loadavg()[0],
      held,
    });
    if (!held) break;
    best = n;
  }
  return best;
}

// warm whisper up once (first inference allocates its buffers) so round 1 measures a steady state
async function* oneSecond(): AsyncIterable<Int16Array> {
  yield clips[0]!.pcm8k.length > 16000
    ? resample(clips[0]!.pcm8k.subarray(0, 8000), 8000, 16000)
    : new Int16Array(16000);
}
for await (const _ of speech.asr.transcribe(oneSecond())) void _;

const cores = (await import('node:os')).cpus().length;
const criterion = `p95 turn latency <= ${P95_LIMIT_MS} ms, no starved or skipped pacer slots`;
const withWhisper = await sweep('whisper', BUDGET_MS / 2);
figure(BENCH, 'max_concurrent_calls', withWhisper, 'calls', {
  criterion,
  cores,
  loadavg1: (await import('node:os')).loadavg()[0],
  ...whisper.fields,
  tts: 'espeak-ng',
});
asrMode = 'inject';
const transportOnly = await sweep('no-asr', BUDGET_MS / 2);
figure(BENCH, 'max_concurrent_calls_without_asr', transportOnly, 'calls', {
  criterion,
  cores,
  note: 'recognition skipped (text injected): Asterisk/RTP path + VAD + espeak-ng + dialog only',
});
await backend.stop();
await speech.close();
await emu.close();
process.exit(0);
