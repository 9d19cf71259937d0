import type { SpeechConfig } from '../config.js';
import type { TtsChunk } from '../types.js';
import { audioChunks, fetchAudio } from './http.js';
import type { SynthesisRequest, TtsProvider } from './provider.js';

type OpenAiTtsConfig = SpeechConfig['tts']['openai'];

/**
 * OpenAI-compatible speech endpoint (OpenAI, Kokoro-FastAPI, speaches, ...): `POST {baseUrl}/audio/speech`
 * with `response_format` wav, or pcm (raw 16-bit little-endian at `pcmSampleRate`, 24 kHz for OpenAI).
 */
export class OpenAiTtsProvider implements TtsProvider {
  readonly name = 'openai';
  readonly defaultVoice: string;

  constructor(private readonly cfg: OpenAiTtsConfig) {
    this.defaultVoice = cfg.voice;
  }

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    const url = `${this.cfg.baseUrl.replace(/\/+$/, '')}/audio/speech`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.cfg.apiKey) headers.authorization = `Bearer ${this.cfg.apiKey.reveal()}`;
    const body = JSON.stringify({
      model: this.cfg.model,
      input: req.text,
      voice: req.voice ?? this.cfg.voice,
      response_format: this.cfg.responseFormat,
      speed: this.cfg.speed,
    });
    const res = await fetchAudio(
      url,
      { method: 'POST', headers, body },
      { timeoutMs: this.cfg.timeoutMs, signal: req.signal, what: 'OpenAI-compatible TTS' },
    );
    yield* audioChunks(res, req.signal, this.cfg.responseFormat === 'pcm' ? this.cfg.pcmSampleRate : undefined);
  }

  async close(): Promise<void> {}
}
