/**
 * Turn latency: from the end of caller speech (the last voiced frame as it leaves the simulated phone line
 * toward the bot) to the first bot audio frame played back, over the shared clips, at 1 and 8 concurrent
 * calls, with stage times. Real Silero VAD, real espeak-ng, real whisper.cpp on a random-weight model with
 * base.en's exact shape (bench/lib/whisper-model.ts), decoding capped at a trained model's token rate.
 *
 * Random weights recognise no words, so after recognition runs (and is timed) the dialog gets the clip's
 * reference transcript (test/fixtures/audio/TRANSCRIPTS.tsv); the output says so (key `asrText`).
 * Caller audio runs in real time for each clip's last second and the silence after it (what endpointing
 * and the measured path depend on); earlier clip audio is fed at once to keep the bench short.
 */
import { readFileSync } from 'node:fs';
import { figure } from './lib/figure.js';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { CallEventBus } from '../src/core/call-events.js';
import { createMetrics } from '../src/core/metrics.js';
import { createLogger } from '../src/log/logger.js';
import { resample } from '../src/media/resampler.js';
import { readWavFile } from '../src/media/wav.js';
import { runCall } from '../src/dialog/call-core.js';
import { createSpeech } from '../src/speech/index.js';
import type { Tts, TtsOptions, Vad, VadFactory, VadEvent } from '../src/speech/types.js';
import { runSimulatedCall, type SimulatedTurn } from '../src/telephony/simulate/driver.js';
import { MemorySessionStore } from '../src/session/memory-store.js';
import { CollectingRecordSink } from '../src/telephony/simulate/memory.js';
import {
  SIM_FRAME_SAMPLES,
  SIM_RATE,
  SimulatedCallLeg,
  throughMulaw,
  type TickResult,
} from '../src/telephony/simulate/simulated-leg.js';
import { TurnAsr } from '../src/telephony/simulate/turn-asr.js';
import { TRANSCRIPTS_TSV, VAD_MODEL, clip } from '../test/helpers/fixtures.js';
import { SMOKE, sized } from './lib/smoke.js';
import { benchWhisper } from './lib/whisper-model.js';

const LEAD_MS = 200;
const TAIL_REALTIME_MS = 1000;
const CALLS_8_TURNS_EACH = sized(3, 1);
const MANY_CALLS = sized(8, 2);
const whisper = await benchWhisper(SMOKE && !process.env.BENCH_WHISPER_SHAPE ? 'tiny.en' : undefined);
const CALL_STAGGER_MS = 250;

interface Clip {
  file: string;
  reference: string;
  pcm8k: Int16Array;
  /** frame index (20 ms, counted from the turn's first frame) of the last voiced frame */
  lastVoicedFrame: number;
  /** last frame within 20 dB of the loudest: no speech comes after it, only quieter sounds */
  lastLoudFrame: number;
}

/** Wall-clock moments (performance.now()) in one call, matched to turns afterwards. */
interface Timeline {
  lastVoiced: number[];
  speechEnds: number[];
  /** substituted finals: the turn's last utterance */
  finals: Array<{ at: number; computeMs: number }>;
  intents: number[];
  ttsStarts: number[];
  ttsFirstChunks: number[];
  botFrames: number[];
}

interface TurnStages {
  total: number;
  endpointing?: number;
  asr?: number;
  asrCompute?: number;
  nlu?: number;
  ttsFirstChunk?: number;
}

async function loadClips(): Promise<Clip[]> {
  const lines = sized(
    readFileSync(TRANSCRIPTS_TSV, 'utf8').trim().split('\n'),
    readFileSync(TRANSCRIPTS_TSV, 'utf8').trim().split('\n').slice(0, 2),
  );
  const clips: Clip[] = [];
  for (const line of lines) {
    const [file, reference] = line.split('\t') as [string, string];
    const wav = await readWavFile(clip(file));
    const speech = resample(wav.samples, wav.sampleRate, SIM_RATE);
    const pcm8k = new Int16Array((SIM_RATE * LEAD_MS) / 1000 + speech.length);
    pcm8k.set(speech, pcm8k.length - speech.length);
    const onLine = throughMulaw(pcm8k);
    clips.push({
      file,
      reference,
      pcm8k,
      lastVoicedFrame: lastVoicedFrame(onLine),
      lastLoudFrame: lastVoicedFrame(onLine, 20),
    });
  }
  return clips;
}

/** Last 20 ms frame whose level is within `belowPeakDb` of the clip's loudest frame (and above a floor). */
function lastVoicedFrame(pcm: Int16Array, belowPeakDb = 35): number {
  const rms: number[] = [];
  for (let at = 0; at + SIM_FRAME_SAMPLES <= pcm.length; at += SIM_FRAME_SAMPLES) {
    let sum = 0;
    for (let i = at; i < at + SIM_FRAME_SAMPLES; i++) sum += pcm[i]! * pcm[i]!;
    rms.push(Math.sqrt(sum / SIM_FRAME_SAMPLES));
  }
  const threshold = Math.max(Math.max(...rms) * 10 ** (-belowPeakDb / 20), 60);
  for (let i = rms.length - 1; i >= 0; i--) if (rms[i]! >= threshold) return i;
  return rms.length - 1;
}

/** Notes when the VAD ends each utterance. */
function timedVad(inner: VadFactory, onSpeechEnd: () => void): VadFactory {
  return {
    create(...args: unknown[]): Vad {
      const vad = (inner.create as (...a: unknown[]) => Vad)(...args);
      return {
        push(pcm: Int16Array): VadEvent[] {
          const events = vad.push(pcm);
          if (events.some((e) => e.type === 'speechEnd')) onSpeechEnd();
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

/** Notes when each synthesis starts and yields its first chunk. */
function timedTts(inner: Tts, onStart: () => void, onFirstChunk: () => void): Tts {
  return {
    async *synthesize(text: string, options?: TtsOptions) {
      onStart();
      let first = true;
      for await (const chunk of inner.synthesize(text, options)) {
        if (first) onFirstChunk();
        first = false;
        yield chunk;
      }
    },
    close: () => inner.close(),
  };
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const config = loadConfig({
  overrides: {
    log: { level: 'warn', format: 'json' },
    speech: {
      vad: { modelPath: VAD_MODEL },
      asr: { whisperCpp: { modelPath: whisper.modelPath, maxTokensPerSecond: whisper.maxTokensPerSecond } },
      // every reply is synthesised: a cached prompt would measure the cache, not the TTS
      tts: { cacheEntries: 0 },
    },
    // a short greeting, and no escalation after repeated "no intent" turns: every turn gets a spoken reply
    dialog: { greeting: 'Hello.', maxLowConfidenceTurns: 1000 },
  },
});
const logger = createLogger(config.log, pino.destination(2));
const metrics = createMetrics(false);
const speech = await createSpeech(config, logger, metrics);
const clips = await loadClips();

async function oneCall(turnClips: Clip[], delayMs: number): Promise<TurnStages[]> {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  const tl: Timeline = {
    lastVoiced: [],
    speechEnds: [],
    finals: [],
    intents: [],
    ttsStarts: [],
    ttsFirstChunks: [],
    botFrames: [],
  };
  let turn = -1;
  const loudSent: boolean[] = [];
  const now = () => performance.now();
  const events = new CallEventBus();
  const leg = new SimulatedCallLeg({ instantPlayout: true });
  const asr = new TurnAsr(speech.asr, {
    // The turn's last utterance is the one ending after the clip's last loud frame: a clip may end in more
    // quiet audio than the end-of-turn silence, and an utterance ended inside it is still the turn's last.
    callerAudioPending: () => turn >= 0 && !loudSent[turn],
    onResult: (r) => {
      if (r.source === 'substituted')
        tl.finals.push({ at: r.at, computeMs: r.timings.processingMs + r.timings.queueMs });
    },
  });
  const vad = timedVad(speech.vad, () => tl.speechEnds.push(now()));
  const tts = timedTts(
    speech.tts,
    () => tl.ttsStarts.push(now()),
    () => tl.ttsFirstChunks.push(now()),
  );
  events.subscribe((e) => {
    if (e.callId === leg.id && e.type === 'intent') tl.intents.push(now());
  });
  const deps = {
    config,
    logger,
    vad,
    asr,
    tts,
    records: new CollectingRecordSink(),
    sessions: new MemorySessionStore(config.session.ttlSeconds),
    events,
    metrics,
  };
  const turns: SimulatedTurn[] = turnClips.map((c) => ({ pcm8k: c.pcm8k, label: c.file }));
  await runSimulatedCall({
    leg,
    events,
    turns,
    run: (l, signal) => runCall(l, deps, signal),
    pace: 'realtime',
    realtimeTailMs: TAIL_REALTIME_MS,
    recogniser: asr,
    beforeTurn: (i) => {
      turn = i;
      asr.setTurn(i, { mode: 'substitute', text: turnClips[i]!.reference.toLowerCase() });
    },
    onTick: (tick: TickResult) => {
      const c = tick.caller;
      if (c && c.turn === turn && c.frame === turnClips[turn]!.lastVoicedFrame) tl.lastVoiced[turn] = tick.at;
      if (c && c.turn === turn && c.frame === turnClips[turn]!.lastLoudFrame) loudSent[turn] = true;
      if (tick.botSamples > 0) tl.botFrames.push(tick.at);
    },
  });
  if (process.env.TURN_LATENCY_DEBUG) {
    const t0 = tl.lastVoiced[0] ?? 0;
    const rel = (xs: number[]) => xs.map((x) => Math.round(x - t0));
    console.error(
      JSON.stringify({
        lastVoiced: rel(tl.lastVoiced),
        speechEnds: rel(tl.speechEnds),
        asr: asr.results.map((r) => ({ turn: r.turn, source: r.source, at: Math.round(r.at - t0), ...r.timings })),
      }),
    );
  }
  return tl.lastVoiced.flatMap((lastVoiced) => {
    const after = (list: number[], t: number | undefined) => (t === undefined ? undefined : list.find((x) => x >= t));
    const firstBot = after(tl.botFrames, lastVoiced);
    if (firstBot === undefined) return [];
    const speechEnd = after(tl.speechEnds, lastVoiced);
    const final = speechEnd === undefined ? undefined : tl.finals.find((f) => f.at >= speechEnd);
    const intent = after(tl.intents, final?.at);
    const ttsStart = after(tl.ttsStarts, intent);
    const ttsFirst = after(tl.ttsFirstChunks, ttsStart);
    const span = (a: number | undefined, b: number | undefined) =>
      a !== undefined && b !== undefined ? b - a : undefined;
    return [
      {
        total: firstBot - lastVoiced,
        endpointing: span(lastVoiced, speechEnd),
        asr: span(speechEnd, final?.at),
        asrCompute: final?.computeMs,
        nlu: span(final?.at, intent),
        ttsFirstChunk: span(ttsStart, ttsFirst),
      },
    ];
  });
}

function report(calls: number, turns: number, measured: TurnStages[]): void {
  // TURN_LATENCY_DEBUG=1: every turn's stage times on stderr (stdout stays one JSON line per figure)
  if (process.env.TURN_LATENCY_DEBUG) for (const m of measured) console.error(JSON.stringify({ calls, ...m }));
  const values = (key: keyof TurnStages) => measured.map((m) => m[key]).filter((v): v is number => v !== undefined);
  const common = {
    calls,
    turns,
    measuredTurns: measured.length,
    asrText: 'reference transcript substituted after real recognition (random weights recognise no words)',
    ...whisper.fields,
    endOfTurnSilenceMs: config.speech.vad.endOfTurnSilenceMs,
    asrParallelism: config.speech.asr.whisperCpp.parallelism,
    ttsCache: 'off',
  };
  const emit = (metric: string, value: number, extra: Record<string, unknown> = {}) =>
    figure('turn-latency', metric, Math.round(value), 'ms', { ...common, ...extra });
  const total = values('total');
  const p50 = percentile(total, 0.5);
  const p95 = percentile(total, 0.95);
  if (calls === 1) {
    emit('turn_latency_p50', p50, { target: 450, meetsTarget: p50 <= 450 });
    emit('turn_latency_p95', p95, { target: 700, meetsTarget: p95 <= 700 });
  } else {
    emit('turn_latency_p50', p50);
    emit('turn_latency_p95', p95, { target: 1000, meetsTarget: p95 <= 1000 });
  }
  const stages: Array<[string, keyof TurnStages]> = [
    ['endpointing', 'endpointing'],
    ['asr', 'asr'],
    ['asr_compute_and_queue', 'asrCompute'],
    ['nlu', 'nlu'],
    ['tts_first_chunk', 'ttsFirstChunk'],
  ];
  for (const [name, key] of stages) {
    emit(`${name}_p50`, percentile(values(key), 0.5));
    emit(`${name}_p95`, percentile(values(key), 0.95));
  }
}

try {
  report(1, clips.length, await oneCall(clips, 0));
  const eight = await Promise.all(
    Array.from({ length: MANY_CALLS }, (_, c) =>
      oneCall(
        Array.from({ length: CALLS_8_TURNS_EACH }, (_, k) => clips[(c + k * 3) % clips.length]!),
        c * CALL_STAGGER_MS,
      ),
    ),
  );
  report(MANY_CALLS, MANY_CALLS * CALLS_8_TURNS_EACH, eight.flat());
  if (process.env.TURN_LATENCY_DEBUG) {
    const asrLines = (await metrics.metrics())
      .split('\n')
      .filter((l) => /^voicebot_asr_(results|partials|finals)/.test(l));
    console.error(asrLines.join('\n'));
  }
} finally {
  await speech.close();
}
