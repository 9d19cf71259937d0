/**
 * Speech ports: one interface per kind. Adapters live beside this file, one per provider.
 * All audio here is PCM16 mono; VAD and ASR take 16 kHz only.
 */

export type VadEvent =
  | { type: 'speechStart'; atMs: number }
  /** fast signal for barge-in: speech has lasted `interruptionMs` */
  | { type: 'interruption'; atMs: number }
  /** end of turn: the utterance audio including pre-roll, at 16 kHz */
  | { type: 'speechEnd'; atMs: number; startMs: number; endMs: number; audio: Int16Array };

/** Per-call voice activity detector. Never throws on bad input: it reports and ignores it. */
export interface Vad {
  /** Feed 16 kHz audio; returns the events it caused, in order. `atMs` counts audio fed so far. */
  push(pcm16k: Int16Array): VadEvent[];
  /** true between speechStart and speechEnd */
  readonly speaking: boolean;
  reset(): void;
  close(): void;
}

export interface VadFactory {
  create(): Vad;
}

export interface AsrTimings {
  /** audio length in ms */
  audioMs: number;
  /** wall time spent in recognition for this result, ms */
  processingMs: number;
  /** wait in the shared queue before recognition started, ms */
  queueMs: number;
  /** tokens the decoder produced for this result (whisper.cpp only) */
  decodedTokens?: number;
}

export interface AsrResult {
  text: string;
  /** 0..1, e.g. mean token probability */
  confidence: number;
  language: string;
  final: boolean;
  timings: AsrTimings;
}

export interface AsrOptions {
  signal?: AbortSignal;
  /** domain words to bias recognition */
  prompt?: string;
}

export interface Asr {
  /**
   * Recognise one utterance arriving as a stream of 16 kHz PCM16 chunks. Yields partial results
   * while audio arrives and exactly one final result after the stream ends.
   */
  transcribe(audio: AsyncIterable<Int16Array>, options?: AsrOptions): AsyncIterable<AsrResult>;
  close(): Promise<void>;
}

export interface TtsChunk {
  pcm: Int16Array;
  sampleRate: number;
}

export interface TtsOptions {
  signal?: AbortSignal;
  voice?: string;
}

export interface Tts {
  /** Stream speech for `text`; stops promptly (within one chunk) when `signal` aborts. */
  synthesize(text: string, options?: TtsOptions): AsyncIterable<TtsChunk>;
  close(): Promise<void>;
}
