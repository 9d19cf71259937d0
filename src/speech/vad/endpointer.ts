import { PcmHistory, energyDb, int16ToFloat32 } from '../audio.js';
import type { Vad, VadEvent } from '../types.js';
import type { SpeechConfig } from '../config.js';
import { WindowAccumulator } from './windows.js';

export const VAD_RATE = 16_000;
/** Silero v5 works on 512-sample (32 ms) windows at 16 kHz. */
export const WINDOW = 512;
const WINDOW_MS = (WINDOW * 1000) / VAD_RATE;
/** How far before the neural detection the onset may be placed. */
const ONSET_LOOKBACK_MS = 800;
/** Speech may start or end this far below its loudest part (fricatives) and still count. */
const ONSET_BELOW_PEAK_DB = 25;
const END_BELOW_PEAK_DB = 25;
/** ~190 ms: a pause between two words, not the silence before the first. */
const ONSET_MAX_GAP_WINDOWS = 6;
/** A candidate that has not reached minSpeechMs is dropped after this much silence (a click, a cough). */
const CANDIDATE_GAP_MS = 100;
/** Audio kept after the end of speech in the utterance: the decay of the last sound. */
const END_TAIL_MS = 150;

/** Says for each 32 ms window whether it is speech (a neural model in production, a fake in tests). */
export interface WindowClassifier {
  isSpeech(window: Float32Array): boolean;
  reset(): void;
  close(): void;
}

/** Why input was refused; each is counted and the input dropped. */
export type VadRejectReason = 'not-int16' | 'oversize' | 'closed';

export interface EndpointerHooks {
  onReject(reason: VadRejectReason): void;
}

/** Longest single push accepted; more would block the event loop for one call (a bug upstream, not audio). */
export const MAX_PUSH_SAMPLES = VAD_RATE * 60;

/** Why a push is refused (counted and dropped by the caller), or null to accept it. */
export function pushRejection(pcm16k: unknown, closed: boolean): VadRejectReason | null {
  if (closed) return 'closed';
  if (!(pcm16k instanceof Int16Array)) return 'not-int16';
  if (pcm16k.length > MAX_PUSH_SAMPLES) return 'oversize';
  return null;
}

/**
 * Turns per-window speech decisions into speechStart / interruption / speechEnd events.
 *
 * The neural decision says *whether* someone speaks but reacts a few hundred ms late; the window energy says
 * *where*: when speech is detected the onset is moved back to where the energy rose, and at the end of the turn
 * the end is moved back to where the energy fell. The utterance audio starts `preRollMs` before the onset.
 */
export class Endpointer implements Vad {
  readonly #history = new PcmHistory();
  readonly #windows = new WindowAccumulator(WINDOW);
  /** the events of the push in progress; `#onWindowOfPush` is bound once, so a push allocates no closure */
  #events: VadEvent[] = [];
  readonly #onWindowOfPush = (window: Int16Array): void => this.#onWindow(window, this.#events);
  readonly #floatWindow = new Float32Array(WINDOW);
  /** energy (dB) per window, newest last, covering the look-back span */
  #energies: number[] = [];
  #energyBase = 0; // absolute window index of energies[0]
  #windowIndex = 0; // windows classified so far
  #floorDb = Number.NaN;
  #closed = false;

  // current candidate utterance (absolute sample indices), or -1
  #onset = -1;
  #started = false;
  #interrupted = false;
  #silentWindows = 0;
  #peakDb = 0;
  #lastUtteranceEnd = 0;
  /** end (absolute sample) of the candidate's last window loud enough to be speech; -1 without a candidate */
  #lastVoicedEnd = -1;
  /**
   * After an end found by energy the classifier still says "speech" for a few hundred ms (its hangover): until
   * it reports silence, only windows at least this loud count as speech, so the hangover cannot open a new turn.
   */
  #hangoverDb = Number.NaN;

  #detectWindow = -1; // absolute window index of the first neural detection of the candidate
  readonly #lookbackWindows: number;
  readonly #keepWindows: number;
  readonly #keepSamples: number;
  readonly #cfg: SpeechConfig['vad'];
  readonly #classifier: WindowClassifier;
  readonly #hooks: EndpointerHooks;

  constructor(cfg: SpeechConfig['vad'], classifier: WindowClassifier, hooks: EndpointerHooks) {
    this.#cfg = cfg;
    this.#classifier = classifier;
    this.#hooks = hooks;
    this.#lookbackWindows = Math.ceil(ONSET_LOOKBACK_MS / WINDOW_MS);
    // energies must reach back past the end-of-turn silence so the end can be refined too
    this.#keepWindows = this.#lookbackWindows + Math.ceil(cfg.endOfTurnSilenceMs / WINDOW_MS) + 4;
    this.#keepSamples = msToSamples(Math.max(cfg.preRollMs, ONSET_LOOKBACK_MS)) + WINDOW;
  }

  get speaking(): boolean {
    return this.#started;
  }

  push(pcm16k: Int16Array): VadEvent[] {
    const rejected = pushRejection(pcm16k, this.#closed);
    if (rejected) return this.#reject(rejected);
    const events: VadEvent[] = [];
    this.#events = events;
    this.#windows.push(pcm16k, this.#onWindowOfPush);
    return events;
  }

  reset(): void {
    this.#classifier.reset();
    this.#hangoverDb = Number.NaN;
    this.#history.clear();
    this.#windows.clear();
    this.#energies = [];
    this.#energyBase = this.#windowIndex;
    this.#floorDb = Number.NaN;
    this.#endCandidate();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#classifier.close();
    this.#history.clear();
  }

  #reject(reason: VadRejectReason): VadEvent[] {
    this.#hooks.onReject(reason);
    return [];
  }

  #onWindow(window: Int16Array, events: VadEvent[]): void {
    this.#history.append(window);
    const db = energyDb(window);
    this.#energies.push(db);
    this.#windowIndex++;
    this.#trimEnergies();
    const now = this.#history.end;
    const speech = this.#isSpeech(window, db);

    if (!speech && this.#onset < 0) this.#trackFloor(db);
    if (speech) {
      this.#silentWindows = 0;
      if (this.#onset < 0) {
        this.#detectWindow = this.#windowIndex - 1;
        const fromWindow = Math.max(this.#detectWindow - this.#lookbackWindows, this.#windowOf(this.#lastUtteranceEnd));
        this.#peakDb = this.#peakIn(fromWindow, this.#detectWindow);
        this.#onset = this.#findOnset(this.#detectWindow, this.#peakDb);
        this.#lastVoicedEnd = now;
      }
      this.#peakDb = Math.max(this.#peakDb, db);
      this.#maybeStart(now, events);
    } else if (this.#onset >= 0) {
      this.#silentWindows++;
      const silentMs = this.#silentWindows * WINDOW_MS;
      if (!this.#started && silentMs >= CANDIDATE_GAP_MS) this.#endCandidate();
      else if (silentMs >= this.#cfg.endOfTurnSilenceMs) {
        // the classifier's own end: on a line too noisy for the energy to fall below the speech level
        if (this.#started) events.push(this.#endEvent(now, now - this.#silentWindows * WINDOW));
        this.#endCandidate();
      }
    }
    if (this.#onset >= 0 && db >= this.#activeThreshold(this.#peakDb, END_BELOW_PEAK_DB)) this.#lastVoicedEnd = now;
    if (this.#started && samplesToMs(now - this.#lastVoicedEnd) >= this.#cfg.endOfTurnSilenceMs) {
      // End of turn counted from the last loud window, not from the classifier's late "silence".
      this.#hangoverDb = this.#activeThreshold(this.#peakDb, END_BELOW_PEAK_DB);
      events.push(this.#endEvent(now, this.#lastVoicedEnd));
      this.#endCandidate();
    }
    if (this.#started && samplesToMs(now - this.#onset) >= this.#cfg.maxUtteranceMs) {
      // Forced split: end this utterance here and go on with a new one while the caller keeps talking.
      events.push(this.#endEvent(now, now, now));
      this.#onset = now;
      this.#detectWindow = this.#windowIndex;
      this.#peakDb = db;
      this.#lastVoicedEnd = now;
      events.push({ type: 'speechStart', atMs: samplesToMs(now) });
    }
    this.#history.dropBefore(this.#keepAudioFrom(now));
  }

  /** The classifier's decision, gated by loudness while its hangover after an energy-found end lasts. */
  #isSpeech(window: Int16Array, db: number): boolean {
    const speech = this.#classifier.isSpeech(int16ToFloat32(window, this.#floatWindow));
    if (!speech) this.#hangoverDb = Number.NaN;
    return speech && !(db < this.#hangoverDb);
  }

  /** Oldest sample still needed: pre-roll and onset look-back before an open candidate, else a look-back span. */
  #keepAudioFrom(now: number): number {
    if (this.#onset < 0) return now - this.#keepSamples;
    const earliestOnset = Math.min(this.#onset, this.#detectWindow * WINDOW - msToSamples(ONSET_LOOKBACK_MS));
    return earliestOnset - msToSamples(this.#cfg.preRollMs);
  }

  #maybeStart(now: number, events: VadEvent[]): void {
    const lastedMs = samplesToMs(now - this.#onset);
    const atMs = samplesToMs(now);
    const interrupt = () => {
      if (this.#interrupted || lastedMs < this.#cfg.interruptionMs) return;
      this.#interrupted = true;
      events.push({ type: 'interruption', atMs });
    };
    // Whichever threshold is shorter fires first; both may fire on the same window.
    if (this.#cfg.interruptionMs < this.#cfg.minSpeechMs) interrupt();
    if (!this.#started && lastedMs >= this.#cfg.minSpeechMs) {
      this.#started = true;
      events.push({ type: 'speechStart', atMs });
    }
    interrupt();
  }

  /** `silenceAt`: where silence began (classifier or energy); `hardEnd`: a forced split point (no refinement). */
  #endEvent(now: number, silenceAt: number, hardEnd?: number): VadEvent {
    // Now that the loudest part of the utterance is known, place the onset again (a hum before a soft first
    // syllable can pass the threshold used at detection time); the audio keeps the earlier of the two.
    const onset = hardEnd === undefined ? this.#findOnset(this.#detectWindow, this.#peakDb) : this.#onset;
    const end = hardEnd ?? this.#findEnd(silenceAt, onset);
    const audioFrom = Math.max(Math.min(onset, this.#onset) - msToSamples(this.#cfg.preRollMs), this.#lastUtteranceEnd);
    const audioTo = hardEnd ?? Math.min(now, Math.max(silenceAt, end + msToSamples(END_TAIL_MS)));
    const audio = this.#history.slice(audioFrom, audioTo);
    this.#lastUtteranceEnd = audioTo;
    return { type: 'speechEnd', atMs: samplesToMs(now), startMs: samplesToMs(onset), endMs: samplesToMs(end), audio };
  }

  #endCandidate(): void {
    this.#onset = -1;
    this.#started = false;
    this.#interrupted = false;
    this.#silentWindows = 0;
    this.#peakDb = 0;
    this.#detectWindow = -1;
    this.#lastVoicedEnd = -1;
  }

  /** Slow-rising, fast-falling estimate of the background level, updated outside speech only. */
  #trackFloor(db: number): void {
    if (Number.isNaN(this.#floorDb) || db < this.#floorDb) this.#floorDb = db;
    else this.#floorDb += Math.min(db - this.#floorDb, 0.1);
  }

  /** A window counts as speech when well above the background and not far below the loudest speech heard. */
  #activeThreshold(peak: number, belowPeakDb: number): number {
    const floor = Number.isNaN(this.#floorDb) ? 0 : this.#floorDb;
    return Math.max(floor + 6, peak - belowPeakDb);
  }

  /** Walk back from the detection over windows loud enough to be speech (short gaps between words allowed). */
  #findOnset(detectWindow: number, peak: number): number {
    const last = detectWindow - this.#energyBase;
    const earliest = Math.max(
      0,
      last - this.#lookbackWindows,
      this.#windowOf(this.#lastUtteranceEnd) - this.#energyBase,
    );
    const threshold = this.#activeThreshold(peak, ONSET_BELOW_PEAK_DB);
    let onset = last;
    let gap = 0;
    for (let i = last; i >= earliest; i--) {
      if ((this.#energies[i] ?? 0) >= threshold) {
        onset = i;
        gap = 0;
      } else if (++gap > ONSET_MAX_GAP_WINDOWS) break;
    }
    return Math.max(0, this.#energyBase + onset) * WINDOW;
  }

  /** Walk back from where the classifier heard silence to the last window loud enough to be speech. */
  #findEnd(silenceAt: number, onset: number): number {
    const threshold = this.#activeThreshold(this.#peakDb, END_BELOW_PEAK_DB);
    const onsetWindow = this.#windowOf(onset) - this.#energyBase;
    for (let i = this.#windowOf(silenceAt) - this.#energyBase - 1; i >= Math.max(0, onsetWindow); i--) {
      if ((this.#energies[i] ?? 0) >= threshold) return Math.max(onset, (this.#energyBase + i + 1) * WINDOW);
    }
    return Math.min(silenceAt, onset + msToSamples(this.#cfg.minSpeechMs));
  }

  #peakIn(fromWindow: number, toWindow: number): number {
    let peak = 0;
    for (let w = Math.max(fromWindow, this.#energyBase); w <= toWindow; w++) {
      peak = Math.max(peak, this.#energies[w - this.#energyBase] ?? 0);
    }
    return peak;
  }

  /** Energies are kept for the look-back span, and for the whole candidate while one is open. */
  #trimEnergies(): void {
    const keepFrom =
      this.#onset >= 0
        ? Math.min(this.#detectWindow, this.#windowOf(this.#onset)) - this.#lookbackWindows
        : this.#windowIndex - this.#keepWindows;
    const drop = keepFrom - this.#energyBase;
    if (drop > this.#keepWindows) {
      this.#energies.splice(0, drop);
      this.#energyBase += drop;
    }
  }

  #windowOf(sample: number): number {
    return Math.floor(sample / WINDOW);
  }
}

const msToSamples = (ms: number) => Math.round((ms * VAD_RATE) / 1000);
const samplesToMs = (n: number) => Math.round((n * 1000) / VAD_RATE);
