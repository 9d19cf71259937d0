/**
 * Barge-in over an echoing line: echo handling off / the level guard alone / the canceller in front of the guard,
 * side by side in the same run.
 *
 * Each prompt is one call through the real call core (runCall) with the real Silero VAD, on a simulated 8 kHz
 * μ-law line (MemoryLeg + EchoPath: delay, echo return loss, a seeded short impulse response, line noise at
 * -60 dBFS) that feeds the bot's played audio back into its input. SIMULATED: the line; the bot's prompts are shared
 * speech clips (test/fixtures/audio, levelled to -18 dBFS) standing in for TTS; ASR is scripted (text for the
 * caller, nothing for echo). Every prompt counts. Lines: 20/150/300 ms at 6 dB, 300 ms at 30 dB, and a line without
 * echo (60 dB: the echo handling must not cost a caller on a clean line anything).
 *
 * - echo only (no caller): false barge-ins per 100 prompts = prompts the bot stopped (cleared its audio) although
 *   nobody spoke; also how many of those were recovered (the prompt resumed).
 * - a caller interrupts (another clip, natural level, speech onset at a seeded random point 0.4–2 s into the prompt
 *   and at least 1 s before its end): detected = the bot stopped after the caller's speech onset and did not take
 *   it back (a stop the VAD did not confirm resumes the prompt over the caller: not a detection); latency = onset →
 *   bot silent (leg.clearAudio), simulated call time, p50/p95 over detected ones.
 * - the echo handling's own CPU per call-second (process CPU time, EchoStage alone over the same audio), per mode.
 *
 * BARGE_IN_PROMPTS sets the prompts per condition (default 200); BARGE_IN_ECHO (JSON) overrides `speech.echo` keys
 * for tuning runs (the defaults were chosen with it; see docs/barge-in.md); BARGE_IN_MODES (off,guard,cancel) and
 * BARGE_IN_CONDITIONS (JSON) narrow a run; BARGE_IN_PROMPT_LEAD=silent starts each prompt with digital silence up to its
 * speech, as TTS engines send it (default: the clips' own room noise); BARGE_IN_PROMPT_POSITION=later makes each
 * measured prompt a call's second: the call first plays WARMUP_MS of another bot voice and WARMUP_GAP_MS of silence (the
 * caller's first turn), so the echo handling has met the line before, as on every prompt after a call's greeting
 * (default `first`: each prompt opens its call, the line unknown); BARGE_IN_INTERRUPTION_MS sets `speech.vad.interruptionMs` (the speech, or
 * loud audio for the fast cue, needed before the bot stops; default: the config's); BARGE_IN_TRACE=1 prints each
 * prompt's stops to stderr.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { runCall } from '../src/dialog/call-core.js';
import { createTestDeps, ScriptedAsr } from '../src/dialog/scripted.js';
import { MemoryLeg } from '../src/dialog/testing/memory-leg.js';
import { mulberry32 } from '../src/core/random.js';
import { EchoPath } from '../src/media/echo-path.js';
import { concatPcm } from '../src/media/pcm.js';
import { resample } from '../src/media/resampler.js';
import { echoConfig } from '../src/speech/echo/config.js';
import { EchoCanceller } from '../src/speech/echo/canceller.js';
import { EchoStage } from '../src/speech/echo/echo-stage.js';
import { OnsetCue } from '../src/speech/echo/onset-cue.js';
import type { Tts, TtsChunk, Vad, VadFactory } from '../src/speech/types.js';
import { createVadFactory } from '../src/speech/vad/silero.js';
import { energyBoundaries, level, loadClips, silentLead } from '../test/speech/helpers.js';
import { VAD_MODEL } from '../test/helpers/fixtures.js';
import { callerClips, drawCaller } from './lib/barge-in-callers.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'barge-in';
const RATE = 8000;
const FRAME = 160;
const PROMPTS = sized(Number(process.env.BARGE_IN_PROMPTS ?? 200), 3);
const NOISE_DBFS = -60;
/** the return loss of the line without echo */
const NO_ECHO_DB = 60;
const ONLY = process.env.BARGE_IN_CONDITIONS
  ? (JSON.parse(process.env.BARGE_IN_CONDITIONS) as Array<{ delayMs: number; erlDb: number }>)
  : null;
const CONDITIONS =
  ONLY ??
  sized(
    [
      { delayMs: 20, erlDb: 6 },
      { delayMs: 150, erlDb: 6 },
      { delayMs: 300, erlDb: 6 },
      { delayMs: 300, erlDb: 30 },
      // a line without echo (60 dB down: under the line noise), as on most VoIP calls and softphones: the echo
      // handling must not cost these callers anything
      { delayMs: 20, erlDb: NO_ECHO_DB },
    ],
    [{ delayMs: 150, erlDb: 6 }],
  );
const ECHO_OVERRIDES = JSON.parse(process.env.BARGE_IN_ECHO ?? '{}') as Record<string, unknown>;
const VAD_CONFIG = {
  modelPath: VAD_MODEL,
  ...(process.env.BARGE_IN_INTERRUPTION_MS ? { interruptionMs: Number(process.env.BARGE_IN_INTERRUPTION_MS) } : {}),
};
/** the echo handling compared: none, the level guard alone (`cancel: false`), the canceller + guard (the default) */
const MODES = {
  off: { enabled: false },
  guard: { enabled: true, cancel: false },
  cancel: { enabled: true, cancel: true },
} as const;
type Mode = keyof typeof MODES;
const ONLY_MODES = process.env.BARGE_IN_MODES ? (process.env.BARGE_IN_MODES.split(',') as Mode[]) : null;
const RUN_MODES = ONLY_MODES ?? (Object.keys(MODES) as Mode[]);

const clips = loadClips();
/** bot voices and caller voices: different speakers */
const SILENT_LEAD = process.env.BARGE_IN_PROMPT_LEAD === 'silent';
// (a TTS engine's prompt starts with digital silence, not a recording's room noise)
const botClips = clips.slice(0, 6).map((c) => (SILENT_LEAD ? silentLead(level(c.pcm, -18)) : level(c.pcm, -18)));
/** where in its call the measured prompt is: `first` (the call's greeting) or `later` (after a warm-up prompt) */
const POSITION = process.env.BARGE_IN_PROMPT_POSITION === 'later' ? 'later' : 'first';
/** the warm-up prompt (`later`): the first 3 s of the next bot voice (a voice the measured prompt does not use) */
const WARMUP_MS = 3000;
/** ... then silence, as while the caller answers, before the measured prompt */
const WARMUP_GAP_MS = 1000;
/** the measured prompt's start in the call, ms */
const LEAD_MS = POSITION === 'later' ? WARMUP_MS + WARMUP_GAP_MS : 0;
/** what the call plays for prompt `i`: the prompt alone, or the warm-up, the gap and the prompt */
function callAudio(i: number): Int16Array {
  const prompt = botClips[i % botClips.length]!;
  if (POSITION === 'first') return prompt;
  const warmup = botClips[(i + 1) % botClips.length]!.subarray(0, (WARMUP_MS * 16000) / 1000);
  return concatPcm([warmup, new Int16Array((WARMUP_GAP_MS * 16000) / 1000), prompt]);
}
const callers = callerClips(clips);

/** Says each prompt ("bot-<i>") as the i-th bot clip, in 100 ms chunks at 16 kHz. */
class ClipTts implements Tts {
  async *synthesize(text: string, options: { signal?: AbortSignal } = {}): AsyncIterable<TtsChunk> {
    const pcm = callAudio(Number(text.split('-')[1]));
    for (let at = 0; at < pcm.length; at += 1600) {
      options.signal?.throwIfAborted();
      yield { pcm: pcm.subarray(at, at + 1600), sampleRate: 16000 };
      await yieldToLoop();
    }
  }
  async close(): Promise<void> {}
}

interface Outcome {
  stopped: boolean;
  recovered: boolean;
  /** caller runs: onset → bot silent, ms; null when the bot never stopped after the onset */
  latencyMs: number | null;
  earlyStop: boolean;
  /** caller runs: the caller's speech onset, call ms */
  onsetMs: number;
  stages: Stages;
}

/**
 * When each stage acted on a prompt, call ms (null: never): the echo handling's "settled" (the line measured, the
 * fast cue armed), the fast cue's loud run, the VAD's speech start and interruption, the bot's stop; and which one
 * stopped the bot. Measured with a shadow EchoStage + OnsetCue fed the same frames and stamps as the call's (the call's own
 * are private to it; the shadow starts a frame earlier, so its times are close to the call's, not equal), and the call's VAD wrapped.
 */
interface Stages {
  settledMs: number | null;
  cueMs: number | null;
  /** the cue as the call acts on it: once the stage has settled */
  cueSettledMs: number | null;
  vadStartMs: number | null;
  vadInterruptionMs: number | null;
  clearMs: number | null;
  decidedBy: 'cue' | 'vad' | 'none';
}

/** The bench's VAD with each event's call time reported. */
function tracedVad(onEvent: (type: string) => void): VadFactory {
  return {
    create(): Vad {
      const inner = vad.create();
      return new Proxy(inner, {
        get(target, prop) {
          if (prop === 'push')
            return (pcm: Int16Array) => {
              const events = target.push(pcm);
              for (const e of events) onEvent(e.type);
              return events;
            };
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}

const vadDeps = createTestDeps({ config: { speech: { vad: VAD_CONFIG } } });
const INTERRUPTION_MS = vadDeps.config.speech.vad.interruptionMs;
const vad = createVadFactory(vadDeps.config.speech.vad, vadDeps.logger, vadDeps.metrics);

async function onePrompt(i: number, cond: { delayMs: number; erlDb: number }, mode: Mode, caller: boolean) {
  const rand = mulberry32(1000 * i + cond.delayMs + cond.erlDb);
  const promptIndex = i % botClips.length;
  const promptMs = (botClips[promptIndex]!.length / 16000) * 1000;
  const leg = new MemoryLeg({
    echo: { ...cond, noiseDbfs: NOISE_DBFS, mulaw: true, seed: i + 1 },
  });
  const echoCfg = echoConfig.parse({ ...ECHO_OVERRIDES, ...MODES[mode] });
  const stages: Stages = {
    settledMs: null,
    cueMs: null,
    cueSettledMs: null,
    vadStartMs: null,
    vadInterruptionMs: null,
    clearMs: null,
    decidedBy: 'none',
  };
  if (echoCfg.enabled) {
    const shadow = new EchoStage(echoCfg, RATE, RATE);
    // the loud run as such, and the cue as the call acts on it (once the stage has settled)
    const loud = new OnsetCue(RATE, INTERRUPTION_MS);
    const cue = new OnsetCue(RATE, INTERRUPTION_MS, () => shadow.settled);
    leg.on('played', (frame: Int16Array, at?: number) => shadow.reference(frame, at));
    leg.on('audio', (frame: Int16Array, at?: number) => {
      const heard = shadow.process(frame, at);
      if (stages.settledMs === null && shadow.settled) stages.settledMs = leg.clockMs;
      if (loud.push(heard)) stages.cueMs ??= leg.clockMs;
      if (cue.push(heard)) stages.cueSettledMs ??= leg.clockMs;
    });
  }
  const deps = createTestDeps({
    config: {
      dialog: { greeting: `bot-${promptIndex}` },
      speech: { vad: VAD_CONFIG, echo: { ...ECHO_OVERRIDES, ...MODES[mode] } },
    },
    asr: new ScriptedAsr(caller ? ['I want to talk about my order'] : []),
    tts: new ClipTts(),
    vad: tracedVad((type) => {
      if (type === 'speechStart') stages.vadStartMs ??= leg.clockMs;
      if (type === 'interruption') stages.vadInterruptionMs ??= leg.clockMs;
    }),
  });
  const done = runCall(leg, deps);
  const line = new Int16Array(Math.round(((LEAD_MS + promptMs + 2500) * RATE) / 1000));
  let onsetMs = Infinity;
  if (caller) {
    // the caller starts talking 0.4-2 s in, at least a second before the prompt would end
    const drawn = drawCaller(rand, callers, promptMs, LEAD_MS);
    const pcm = resample(drawn.caller.pcm, 16000, RATE);
    const from = Math.round((drawn.offsetMs * RATE) / 1000);
    line.set(pcm.subarray(0, line.length - from), from);
    onsetMs = drawn.onsetMs;
  }
  // the greeting starts on the first frames; the caller line is aligned to the call clock
  for (let at = 0; at < line.length && !leg.hungUpBy; at += FRAME) {
    leg.feed(line.subarray(at, at + FRAME));
    await yieldToLoop();
    if (!caller && leg.clears.length > 0 && at > ((LEAD_MS + promptMs) * RATE) / 1000) break;
  }
  const states = deps.published.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.cause : ''));
  leg.hangupByCaller();
  await done;
  const clear = leg.clears[0];
  if (clear) {
    stages.clearMs = clear.atMs;
    stages.decidedBy = stages.vadInterruptionMs !== null && stages.vadInterruptionMs <= clear.atMs ? 'vad' : 'cue';
  }
  const outcome: Outcome = {
    stages,
    onsetMs,
    stopped: leg.clears.length > 0,
    recovered: states.includes('false interruption: resuming the prompt'),
    latencyMs:
      clear && clear.atMs >= onsetMs && !states.includes('false interruption: resuming the prompt')
        ? clear.atMs - onsetMs
        : null,
    earlyStop: clear !== undefined && clear.atMs < onsetMs,
  };
  if (process.env.BARGE_IN_TRACE)
    process.stderr.write(
      `${mode} ${caller ? 'caller' : 'echo'} #${i} onset ${onsetMs.toFixed(0)} prompt ${promptMs.toFixed(0)} clears ${JSON.stringify(leg.clears.map((c) => c.atMs))} resumed ${outcome.recovered} ${JSON.stringify(stages)}\n`,
    );
  return outcome;
}

/**
 * Where the time went on the prompts whose caller was not stopped within 300 ms (missed or late): why (no stop, the
 * bot had stopped before the caller spoke, the cue was taken back, late), which stage stopped the late ones, and
 * each stage's time after the caller's onset (median over them; null: the stage never acted).
 */
function lateOrMissed(outcomes: Outcome[]) {
  const bad = outcomes.filter((o) => o.latencyMs === null || o.latencyMs > 300);
  const after = (pick: (s: Stages) => number | null) => {
    const values = bad.map((o) => pick(o.stages)).filter((v): v is number => v !== null);
    const rel = bad.flatMap((o) => {
      const v = pick(o.stages);
      return v === null ? [] : [v - o.onsetMs];
    });
    return { n: values.length, p50: rel.length ? Math.round(percentile(rel, 0.5)) : null };
  };
  const count = (f: (o: Outcome) => boolean) => bad.filter(f).length;
  return {
    count: bad.length,
    why: {
      noStop: count((o) => o.stages.clearMs === null),
      stoppedBeforeCaller: count((o) => o.earlyStop),
      cueTakenBack: count((o) => o.recovered && !o.earlyStop),
      late: count((o) => o.latencyMs !== null),
    },
    lateDecidedBy: {
      cue: count((o) => o.latencyMs !== null && o.stages.decidedBy === 'cue'),
      vad: count((o) => o.latencyMs !== null && o.stages.decidedBy === 'vad'),
    },
    /** the echo handling settled only after the caller's onset + 150 ms (or never): the fast cue was off */
    settledLate: count((o) => o.stages.settledMs === null || o.stages.settledMs > o.onsetMs + 150),
    /** a loud run came before the stage settled (the cue waited for it) */
    loudBeforeSettled: count((o) => o.stages.cueMs !== null && o.stages.cueMs !== o.stages.cueSettledMs),
    afterOnsetMs: {
      settled: after((st) => st.settledMs),
      cue: after((st) => st.cueMs),
      cueSettled: after((st) => st.cueSettledMs),
      vadStart: after((st) => st.vadStartMs),
      vadInterruption: after((st) => st.vadInterruptionMs),
      clear: after((st) => st.clearMs),
    },
  };
}

for (const cond of CONDITIONS) {
  for (const mode of RUN_MODES) {
    const tag = {
      delayMs: cond.delayMs,
      erlDb: cond.erlDb,
      echo: mode,
      prompts: PROMPTS,
      interruptionMs: INTERRUPTION_MS,
      promptLead: SILENT_LEAD ? 'silent' : 'room noise',
      promptPosition: POSITION,
    };
    let falseStops = 0;
    let recovered = 0;
    for (let i = 0; i < PROMPTS; i++) {
      const o = await onePrompt(i, cond, mode, false);
      if (o.stopped) falseStops++;
      if (o.recovered) recovered++;
    }
    figure(BENCH, 'false_barge_ins_per_100_prompts', (falseStops * 100) / PROMPTS, 'per 100', {
      ...tag,
      recovered,
      target: 1,
    });
    const latencies: number[] = [];
    const outcomes: Outcome[] = [];
    let early = 0;
    for (let i = 0; i < PROMPTS; i++) {
      const o = await onePrompt(i, cond, mode, true);
      outcomes.push(o);
      if (o.latencyMs !== null) latencies.push(o.latencyMs);
      if (o.earlyStop) early++;
    }
    if (mode !== 'off')
      figure(BENCH, 'late_or_missed_stages', lateOrMissed(outcomes).count, 'prompts', {
        ...tag,
        ...lateOrMissed(outcomes),
      });
    figure(BENCH, 'interruptions_detected', (latencies.length * 100) / PROMPTS, '%', {
      ...tag,
      stoppedBeforeCaller: early,
      target: 98,
    });
    figure(BENCH, 'onset_to_silent_p50', percentile(latencies, 0.5), 'ms', tag);
    figure(BENCH, 'onset_to_silent_p95', percentile(latencies, 0.95), 'ms', { ...tag, target: 300 });
  }
}

// The echo handling's own cost per mode: every prompt's line (echo + a caller) and reference through EchoStage, CPU
// time per second of call audio.
for (const mode of RUN_MODES.filter((m) => m !== 'off')) {
  const stageCfg = echoConfig.parse({ ...ECHO_OVERRIDES, ...MODES[mode] });
  let cpuMs = 0;
  let audioMs = 0;
  for (let i = 0; i < Math.min(PROMPTS, 50); i++) {
    const bot = resample(botClips[i % botClips.length]!, 16000, RATE);
    const caller = resample(callers[i % callers.length]!.pcm, 16000, RATE);
    const path = new EchoPath({
      sampleRate: RATE,
      delayMs: 150,
      erlDb: 6,
      noiseDbfs: NOISE_DBFS,
      mulaw: true,
      seed: i,
    });
    const frames: Array<[Int16Array, Int16Array]> = [];
    for (let at = 0; at + FRAME <= bot.length; at += FRAME) {
      const played = bot.subarray(at, at + FRAME);
      frames.push([path.take(FRAME, caller.subarray(at, at + FRAME)), played]);
      path.pushBot(played);
    }
    const stage = new EchoStage(stageCfg, RATE, RATE);
    const before = process.cpuUsage();
    for (const [line, played] of frames) {
      stage.reference(played);
      stage.process(line);
    }
    const used = process.cpuUsage(before);
    cpuMs += (used.user + used.system) / 1000;
    audioMs += (frames.length * FRAME * 1000) / RATE;
  }
  const perSecond = cpuMs / (audioMs / 1000);
  figure(BENCH, 'echo_cpu_per_call_second', perSecond, 'ms', {
    echo: mode,
    percentOfCore: Number((perSecond / 10).toFixed(3)),
    target: '2 % of a core (20 ms)',
    audioSeconds: Math.round(audioMs / 1000),
  });
}
// The canceller's convergence: ERLE (echo in / echo left, the caller's own audio taken out) over windows after the
// bot starts talking, on the echo alone and with a caller talking from the bot's first word on (double talk from the
// start), per condition; 6 bot voices, two clips each.
if (RUN_MODES.includes('cancel')) {
  const windows: Array<[number, number]> = [
    [0, 0.5],
    [0.5, 1],
    [1, 1.5],
    [1.5, 2],
    [2, 3],
    [3, 5],
  ];
  for (const cond of CONDITIONS.filter((c) => c.erlDb < NO_ECHO_DB)) {
    for (const talking of [false, true]) {
      const sums = windows.map(() => ({ echo: 0, left: 0 }));
      for (let b = 0; b < botClips.length; b++) {
        const bot = resample(concatPcm([botClips[b]!, botClips[(b + 1) % botClips.length]!]), 16000, RATE);
        const start = Math.round((energyBoundaries(bot, RATE).startMs * RATE) / 1000);
        const caller = resample(callers[b % callers.length]!.pcm, 16000, RATE);
        const line = new EchoPath({ ...cond, sampleRate: RATE, noiseDbfs: NOISE_DBFS, mulaw: true, seed: b + 1 });
        const clean = new EchoPath({ ...cond, sampleRate: RATE, seed: b + 1 });
        const canceller = new EchoCanceller(RATE, 500, 32);
        const end = Math.min(bot.length, start + 5 * RATE);
        for (let at = 0; at + FRAME <= end; at += FRAME) {
          const own = Int16Array.from({ length: FRAME }, (_, i) => (talking ? (caller[at + i - start] ?? 0) : 0));
          const played = bot.subarray(at, at + FRAME);
          const heard = line.take(FRAME, own);
          const echo = clean.take(FRAME);
          line.pushBot(played);
          clean.pushBot(played);
          canceller.reference(played);
          const out = canceller.process(heard);
          for (let i = 0; i < FRAME; i++) {
            const t = (at + i - start) / RATE;
            const w = windows.findIndex(([from, to]) => t >= from && t < to);
            if (w < 0) continue;
            sums[w]!.echo += echo[i]! ** 2;
            sums[w]!.left += (out[i]! - own[i]!) ** 2;
          }
        }
      }
      const erle = sums.map((s) => Math.round(10 * Math.log10(s.echo / Math.max(1, s.left)) * 10) / 10);
      figure(BENCH, 'canceller_erle_1_2s', (erle[2]! + erle[3]!) / 2, 'dB', {
        delayMs: cond.delayMs,
        erlDb: cond.erlDb,
        caller: talking ? 'from the first word' : 'none',
        erleDbBySecondsAfterBotOnset: Object.fromEntries(windows.map(([from, to], k) => [`${from}-${to}`, erle[k]])),
      });
    }
  }
}
await vad.close?.();
