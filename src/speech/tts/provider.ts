import { VoicebotError } from '../../core/errors.js';

import type { TtsChunk } from '../types.js';

export interface SynthesisRequest {
  text: string;
  voice?: string;
  signal: AbortSignal;
}

/** One TTS backend: speaks one sentence as a stream of PCM16 chunks and stops when the signal aborts. */
export interface TtsProvider {
  readonly name: string;
  /** the voice used when a request names none (part of the cache key) */
  readonly defaultVoice: string;
  synthesize(request: SynthesisRequest): AsyncIterable<TtsChunk>;
  close(): Promise<void>;
}

/** The backend cannot work as configured (missing voice files, bad settings); the message says what to fix. */
export class TtsSetupError extends VoicebotError {
  constructor(message: string) {
    super(message, { kind: 'setup' });
  }
}

/** The backend failed on one request (process died, HTTP error). */
export class TtsError extends VoicebotError {
  constructor(message: string) {
    super(message, { kind: 'unavailable' });
  }
}
