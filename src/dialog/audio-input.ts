import type { TurnMilestone } from '../core/call-events.js';
import { systemClock, type Timers } from '../core/clock.js';
import type { Logger } from '../log/logger.js';
import type { EchoStage, EchoStats } from '../speech/echo/echo-stage.js';
import type { OnsetCue } from '../speech/echo/onset-cue.js';
import type { Asr, AsrResult, Vad } from '../speech/types.js';
import type { CallLeg } from '../telephony/port.js';
import { AsyncQueue } from '../core/async-queue.js';
import { rateConverter, type RateConverter } from './audio.js';
import type { DialogMetrics } from './metrics.js';

export const VAD_RATE = 16000;
/** Silero says "speech" up to ~1 s after it began; the VAD then places the onset up to 800 ms back. */
const ONSET_LAG_MS = 800;
/** Audio after the end of speech that still belongs to the utterance (the VAD keeps the same tail). */
const END_TAIL_MS = 150;

/** 16 kHz audio with its position on the VAD's clock (samples fed to it before this chunk). */
interface Chunk {
  pcm: Int16Array;
  at: number;
}

export interface Utterance {
  text: string;
  confidence: number;
  /** ms since call start when the caller started speaking */
  atMs: number;
  /** performance.now() at the end of speech (the VAD's end of turn), for response latency */
  endedAt: number;
  /** silence the VAD waited after the last speech before it ended the turn, ms */
  endpointingMs: number;
  /** performance.now() when the final recognition result arrived */
  recognisedAt: number;
  /** how the turn ended when it was not the VAD and a final result: cut at the longest turn, or the last partial after the ASR grace */
  via?: 'monologueCut' | 'asrGrace';
}

export interface AudioInputHooks {
  /** ms since call start */
  clockMs(): number;
  /** every accepted caller frame, with its length in ms (drives the call clock) */
  onAudio?(ms: number): void;
  /** what the bot is playing now, if anything */
  activePrompt(): { allowInterruptions: boolean } | null;
  /** caller speech has lasted long enough to interrupt: barge in (synchronously) */
  onInterruption(): void;
  onUtterance(u: Utterance): void;
  /** the speech that barged in was nothing after all (empty recognition): noise or echo */
  onFalseInterruption?(): void;
  onPartial?(text: string): void;
  /** each step of a turn (also logged at info, with timings) */
  onMilestone?(m: TurnMilestone): void;
}

/** Where the audio comes from: a call leg, or one party of a handed-off call (see after-hand-off.ts). */
export interface AudioSource {
  readonly inputSampleRate: CallLeg['inputSampleRate'];
  /**
   * `audio`: what the person says; `played`: the bot's audio as it is played (echo suppression, when enabled).
   * `at`: the frame's time on the leg's media clock (CallLegEvents): the echo stage aligns the two streams by it.
   */
  on(event: 'audio' | 'played', listener: (frame: Int16Array, at?: number) => void): unknown;
  off(event: 'audio' | 'played', listener: (frame: Int16Array, at?: number) => void): unknown;
}

export interface AudioInputOptions {
  leg: AudioSource;
  vad: Vad;
  /** keeps the bot's echo (the leg's `played` audio coming back) away from the VAD; none: the VAD hears everything */
  echo?: EchoStage;
  /**
   * Barge in on a caller onset in the echo handling's output before the VAD confirms it (it needs `echo`): the bot
   * stops at once, and resumes its prompt (a false interruption) unless the VAD starts speech within `confirmMs`.
   */
  onsetCue?: { cue: OnsetCue; confirmMs: number };
  asr: Asr;
  logger: Logger;
  metrics: DialogMetrics;
  /** the call's signal: aborting it cancels every recognition in flight */
  signal: AbortSignal;
  preRollMs: number;
  /** speech the VAD needs before speechStart: the onset lies this far back */
  minSpeechMs: number;
  /** bound on the wait for the final ASR result after the caller stops; past it the last partial is the turn */
  asrTimeoutMs: number;
  /** words the recognition must hold before speech over a prompt stops it (0: the VAD's interruption alone) */
  minInterruptionWords?: number;
  /** the call's clock for that bound (default: the system clock) */
  timers?: Timers;
  hooks: AudioInputHooks;
}

interface Capture {
  /** performance.now() at speechStart */
  startedAt: number;
  stream: AsyncQueue<Int16Array>;
  controller: AbortController;
  duringPrompt: boolean;
  interrupted: boolean;
  /** long enough to barge in, but the bot stops only once the recognition holds `minInterruptionWords` */
  awaitingWords: boolean;
  atMs: number;
  /** performance.now() at speechEnd */
  endedAt: number;
  /** the VAD's trailing silence before speechEnd, ms */
  endpointingMs: number;
  /** bounds the wait for the final result */
  timer?: unknown;
  /** the newest partial result: the turn if the final one does not come within the grace */
  partial?: { text: string; confidence: number };
  /** the grace ran out */
  graceExpired?: boolean;
  /** cut at the longest turn rather than ended by the VAD */
  cut?: boolean;
}

/**
 * Caller audio → 16 kHz → VAD; each utterance is streamed into its own `asr.transcribe` while the
 * caller speaks, from the pre-roll before the VAD's (late) speechStart to its speechEnd (the recogniser
 * leaves out the silence at the end). Speech that starts during an interruptible prompt counts only if it
 * lasts long enough to barge in; during a non-interruptible prompt (legal notice) it is ignored.
 */
export class AudioInput {
  readonly #opts: AudioInputOptions;
  readonly #resampler: RateConverter;
  /** the echo handling's output (what the VAD hears) at 16 kHz; ASR gets the untouched audio */
  readonly #vadResampler: RateConverter | null;
  readonly #preRoll: Chunk[] = [];
  #preRollSamples = 0;
  /** samples fed to the VAD so far: its clock */
  #vadAt = 0;
  /** where the previous utterance's audio ended (VAD clock): the next pre-roll starts no earlier */
  #lastCut = 0;
  #capture: Capture | null = null;
  #ignoring = false;
  #sawInterruption = false;
  /** the VAD's interruption came before speechStart while words are required: the next capture waits for them */
  #awaitWords = false;
  /** a turn was cut while the caller went on talking: the rest of that speech (up to the VAD's end) is not a turn */
  #afterCut = false;
  #closed = false;
  /** a fast onset cue stopped the bot: the VAD clock (samples) by which its speech start must come */
  #cueDeadline: number | null = null;
  readonly #tasks = new Set<Promise<void>>();
  readonly #timers = new Set<unknown>();
  readonly #clock: Timers;
  readonly #onAudio = (frame: Int16Array, at?: number) => this.#handleFrame(frame, at);
  readonly #onPlayed = (frame: Int16Array, at?: number) => this.#opts.echo?.reference(frame, at);

  constructor(options: AudioInputOptions) {
    this.#opts = options;
    this.#resampler = rateConverter(options.leg.inputSampleRate, VAD_RATE);
    this.#vadResampler = options.echo ? rateConverter(options.leg.inputSampleRate, VAD_RATE) : null;
    this.#clock = options.timers ?? systemClock;
  }

  start(): void {
    this.#opts.leg.on('audio', this.#onAudio);
    if (this.#opts.echo) this.#opts.leg.on('played', this.#onPlayed);
  }

  /** Stop listening, cancel recognitions, wait for their tasks to settle. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#opts.leg.off('audio', this.#onAudio);
      this.#opts.leg.off('played', this.#onPlayed);
      this.#capture?.controller.abort(new Error('call ended'));
      this.#capture?.stream.end();
      this.#capture = null;
      try {
        this.#opts.vad.close();
      } catch (err) {
        this.#opts.logger.warn({ err }, 'VAD close failed');
      }
    }
    await Promise.allSettled([...this.#tasks]);
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
  }

  /** what the echo handling saw on this call; undefined without it */
  get echoStats(): EchoStats | undefined {
    return this.#opts.echo?.stats;
  }

  /** Whether the caller is in the middle of a turn (speech started, not yet ended). */
  get capturing(): boolean {
    return this.#capture !== null;
  }

  /**
   * The caller has talked for the longest turn allowed: end the turn here and recognise what was said so far, as if
   * the VAD had ended it. The rest of this stretch of speech is dropped (the bot answers; the caller can barge in).
   * Returns false when no turn is in progress.
   */
  cutTurn(): boolean {
    const capture = this.#capture;
    if (!capture || this.#closed) return false;
    capture.cut = true;
    this.#afterCut = true;
    this.#endCapture(0);
    return true;
  }

  get pendingRecognitions(): number {
    return this.#tasks.size;
  }

  #handleFrame(frame: Int16Array, at: number | undefined): void {
    if (this.#closed) return;
    if (!(frame instanceof Int16Array) || frame.length === 0) {
      this.#opts.metrics.droppedFrames.inc({ reason: 'malformed' });
      return;
    }
    this.#opts.hooks.onAudio?.((frame.length * 1000) / this.#opts.leg.inputSampleRate);
    const pcm = this.#resampler.process(frame);
    const heard = this.#vadResampler ? this.#vadResampler.process(this.#opts.echo!.process(frame, at)) : pcm;
    if (pcm.length === 0) return;
    const chunk = { pcm, at: this.#vadAt };
    this.#vadAt += pcm.length;
    this.#capture?.stream.push(pcm);
    this.#rememberPreRoll(chunk);
    this.#onsetCue(heard);
    let events;
    try {
      events = this.#opts.vad.push(heard);
    } catch (err) {
      this.#opts.metrics.droppedFrames.inc({ reason: 'vad-error' });
      this.#opts.logger.warn({ err }, 'VAD rejected a frame');
      return;
    }
    for (const ev of events) {
      if (ev.type === 'speechStart') this.#startCapture();
      else if (ev.type === 'interruption') this.#interruption();
      else if (this.#afterCut)
        this.#afterCut = false; // the end of speech whose turn was already cut
      else this.#endCapture(ev.atMs - ev.endMs);
    }
  }

  #now(): number {
    return Math.round(this.#opts.hooks.clockMs());
  }

  /** Logged at info (a user can see the bot heard them) and handed to the call core (call events). */
  #milestone(m: TurnMilestone): void {
    // the words stay out of the log (they are in the transcript): their length says enough here
    const { step, ...detail } = m;
    const fields = 'text' in detail ? { ...detail, text: undefined, chars: detail.text.length } : detail;
    this.#opts.logger.info(fields, `caller turn: ${step}`);
    this.#opts.hooks.onMilestone?.(m);
  }

  #rememberPreRoll(chunk: Chunk): void {
    this.#preRoll.push(chunk);
    this.#preRollSamples += chunk.pcm.length;
    // speechStart comes minSpeechMs after the onset, or later when the classifier was slow to react
    const keep = ((this.#opts.preRollMs + Math.max(this.#opts.minSpeechMs, ONSET_LAG_MS)) * VAD_RATE) / 1000;
    while (this.#preRoll.length > 1 && this.#preRollSamples - this.#preRoll[0]!.pcm.length >= keep) {
      this.#preRollSamples -= this.#preRoll.shift()!.pcm.length;
    }
  }

  /** The fast cue on what the VAD hears; and a cue the VAD did not confirm in time was a false interruption. */
  #onsetCue(heard: Int16Array): void {
    const opts = this.#opts.onsetCue;
    if (!opts) return;
    const fired = opts.cue.push(heard);
    if (this.#cueDeadline !== null && this.#vadAt >= this.#cueDeadline && !this.#capture) {
      this.#cueDeadline = null;
      this.#sawInterruption = false;
      this.#opts.hooks.onFalseInterruption?.();
      return;
    }
    if (!fired || this.#sawInterruption || this.#capture?.interrupted || !this.#opts.echo?.settled) return;
    if ((this.#opts.minInterruptionWords ?? 0) > 0) return; // the words decide, not the sound
    const prompt = this.#opts.hooks.activePrompt();
    if (!prompt?.allowInterruptions) return;
    this.#sawInterruption = true;
    if (this.#capture) this.#capture.interrupted = true;
    else this.#cueDeadline = this.#vadAt + Math.round((opts.confirmMs * VAD_RATE) / 1000);
    this.#opts.hooks.onInterruption();
  }

  #interruption(): void {
    if ((this.#opts.minInterruptionWords ?? 0) > 0 && this.#opts.hooks.activePrompt()) {
      if (this.#capture) this.#capture.awaitingWords = true;
      else this.#awaitWords = true;
      return;
    }
    this.#sawInterruption = true;
    if (this.#capture) this.#capture.interrupted = true;
    this.#opts.hooks.onInterruption();
  }

  /** Words-gated barge-in: the recognition of a capture that was long enough now holds enough words. */
  #interruptOnWords(capture: Capture, text: string): void {
    if (!capture.awaitingWords || capture.interrupted) return;
    if (wordCount(text) < (this.#opts.minInterruptionWords ?? 0)) return;
    capture.interrupted = true;
    this.#opts.hooks.onInterruption();
  }

  #startCapture(): void {
    if (this.#capture) return;
    const prompt = this.#opts.hooks.activePrompt();
    if (prompt && !prompt.allowInterruptions) {
      this.#ignoring = true; // talking over a legal notice: not a turn
      return;
    }
    const stream = new AsyncQueue<Int16Array>();
    const controller = new AbortController();
    this.#cueDeadline = null; // the VAD confirms the cue (if there was one)
    const capture: Capture = {
      startedAt: performance.now(),
      stream,
      controller,
      duringPrompt: prompt !== null,
      interrupted: this.#sawInterruption,
      awaitingWords: this.#awaitWords,
      atMs: Math.max(0, this.#opts.hooks.clockMs() - this.#opts.minSpeechMs),
      endedAt: 0,
      endpointingMs: 0,
    };
    this.#capture = capture;
    this.#milestone({ step: 'speech-start', atMs: capture.atMs });
    // the pre-roll includes the frame that triggered speechStart; none of it from the previous utterance
    for (const { pcm, at } of this.#preRoll) {
      const skip = Math.min(pcm.length, Math.max(0, this.#lastCut - at));
      if (skip < pcm.length) stream.push(pcm.subarray(skip));
    }
    this.#track(this.#recognise(capture));
  }

  /** `trailingMs`: how long the VAD heard silence after the speech before it ended the turn. */
  #endCapture(trailingMs: number): void {
    const capture = this.#capture;
    this.#capture = null;
    // where this utterance's audio ends; counted back from the newest audio, as a VAD's clock (a scripted
    // one's) may not be ours
    const cut = this.#vadAt - Math.round((Math.max(0, trailingMs - END_TAIL_MS) * VAD_RATE) / 1000);
    this.#lastCut = Math.max(this.#lastCut, cut);
    const interrupted = this.#sawInterruption;
    this.#sawInterruption = false;
    this.#awaitWords = false;
    if (this.#ignoring) {
      this.#ignoring = false;
      this.#opts.metrics.discardedUtterances.inc({ reason: 'no-barge-in' });
      this.#milestone({ step: 'discarded', atMs: this.#now(), reason: 'no-barge-in' });
      return;
    }
    if (!capture) return;
    capture.endedAt = performance.now();
    capture.endpointingMs = trailingMs;
    capture.stream.end();
    this.#milestone({
      step: 'speech-end',
      atMs: this.#now(),
      speechMs: Math.round(capture.endedAt - capture.startedAt),
    });
    if (capture.duringPrompt && !capture.interrupted && !interrupted && !capture.awaitingWords) {
      // too short to interrupt the bot: a cough or "mhm", not a turn
      capture.controller.abort(new Error('speech during prompt too short to barge in'));
      this.#opts.metrics.discardedUtterances.inc({ reason: 'too-short' });
      this.#milestone({ step: 'discarded', atMs: this.#now(), reason: 'too-short' });
      return;
    }
    const timer = this.#clock.setTimeout(() => {
      this.#timers.delete(timer);
      capture.graceExpired = true;
      capture.controller.abort(new Error(`no final ASR result within ${this.#opts.asrTimeoutMs} ms`));
    }, this.#opts.asrTimeoutMs);
    this.#timers.add(timer);
    capture.timer = timer;
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    void task.then(
      () => this.#tasks.delete(task),
      (err: unknown) => {
        this.#tasks.delete(task);
        this.#opts.logger.error({ err }, 'recognition task failed');
      },
    );
  }

  async #recognise(capture: Capture): Promise<void> {
    const callSignal = this.#opts.signal;
    const signal = AbortSignal.any([callSignal, capture.controller.signal]);
    let final: AsrResult | undefined;
    try {
      for await (const result of this.#opts.asr.transcribe(capture.stream, { signal })) {
        if (signal.aborted) break;
        if (result.final) final = result;
        else if (result.text.trim()) {
          capture.partial = { text: result.text.trim(), confidence: result.confidence };
          this.#opts.hooks.onPartial?.(result.text.trim());
          this.#interruptOnWords(capture, result.text);
        }
      }
    } catch (err) {
      if (!signal.aborted) {
        this.#opts.metrics.errors.inc({ stage: 'asr' });
        this.#opts.logger.warn({ err }, 'speech recognition failed; utterance dropped');
        this.#milestone({ step: 'discarded', atMs: this.#now(), reason: 'asr-error' });
        return;
      }
      if (!callSignal.aborted && capture.controller.signal.reason instanceof Error) {
        this.#opts.logger.debug({ reason: capture.controller.signal.reason.message }, 'recognition cancelled');
      }
      // a grace that ran out is handled below, whether the recogniser threw on the abort or stopped
      if (!capture.graceExpired) return;
    } finally {
      if (capture.timer !== undefined) {
        this.#clock.clearTimeout(capture.timer);
        this.#timers.delete(capture.timer);
      }
    }
    if (signal.aborted) {
      if (callSignal.aborted || !capture.graceExpired) return;
      if (capture.partial) {
        // the recogniser is late: what it had understood so far is the turn, rather than nothing
        this.#utterance(capture, capture.partial.text, capture.partial.confidence, 'asrGrace');
      } else {
        this.#milestone({ step: 'discarded', atMs: this.#now(), reason: 'asr-timeout' });
      }
      return;
    }
    const text = final?.text.trim() ?? '';
    if (!text) {
      this.#opts.metrics.discardedUtterances.inc({ reason: 'empty' });
      this.#milestone({ step: 'discarded', atMs: this.#now(), reason: 'empty' });
      if (capture.interrupted) this.#opts.hooks.onFalseInterruption?.();
      return;
    }
    this.#interruptOnWords(capture, text);
    if (capture.awaitingWords && !capture.interrupted) {
      // long enough, but too few words to stop the bot ("mhm", "right"): a backchannel, not a turn
      this.#opts.metrics.discardedUtterances.inc({ reason: 'too-few-words' });
      this.#milestone({ step: 'discarded', atMs: this.#now(), reason: 'too-few-words' });
      return;
    }
    this.#utterance(capture, text, final!.confidence, capture.cut ? 'monologueCut' : undefined);
  }

  #utterance(capture: Capture, text: string, confidence: number, via: Utterance['via']): void {
    const recognisedAt = performance.now();
    this.#milestone({
      step: 'asr-final',
      atMs: this.#now(),
      text,
      confidence,
      asrMs: Math.round(recognisedAt - capture.endedAt),
    });
    this.#opts.hooks.onUtterance({
      text,
      confidence,
      atMs: capture.atMs,
      endedAt: capture.endedAt,
      endpointingMs: capture.endpointingMs,
      recognisedAt,
      ...(via ? { via } : {}),
    });
  }
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
}
