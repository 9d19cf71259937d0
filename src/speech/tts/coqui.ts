import type { SpeechConfig } from '../config.js';
import type { TtsChunk } from '../types.js';
import { audioChunks, fetchAudio } from './http.js';
import type { SynthesisRequest, TtsProvider } from './provider.js';

/** Coqui TTS server (`tts-server`): `GET /api/tts?text=...[&speaker_id=...]` → WAV. */
export class CoquiProvider implements TtsProvider {
  readonly name = 'coqui';
  readonly defaultVoice: string;

  constructor(private readonly cfg: SpeechConfig['tts']['coqui']) {
    this.defaultVoice = cfg.speakerId ?? '';
  }

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    const url = new URL('/api/tts', this.cfg.baseUrl);
    url.searchParams.set('text', req.text);
    const speaker = req.voice ?? this.cfg.speakerId;
    if (speaker) url.searchParams.set('speaker_id', speaker);
    const res = await fetchAudio(
      url.toString(),
      {},
      { timeoutMs: this.cfg.timeoutMs, signal: req.signal, what: 'Coqui TTS' },
    );
    yield* audioChunks(res, req.signal);
  }

  async close(): Promise<void> {}
}
