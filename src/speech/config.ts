import { z } from 'zod';
import { secret } from '../config/secret.js';

/** Speech section. Owned by the speech concern; providers each get a sub-object. */
export const vadConfig = z.strictObject({
  /** Silero VAD v5, shipped in the repository (MIT, see models/README.md). */
  modelPath: z.string().default('models/silero_vad_v5.onnx'),
  threshold: z.number().min(0.05).max(0.99).default(0.5),
  minSpeechMs: z.number().int().min(0).default(200),
  endOfTurnSilenceMs: z.number().int().min(50).default(500),
  preRollMs: z.number().int().min(0).default(300),
  maxUtteranceMs: z.number().int().min(1000).default(30_000),
  /** Speech needed before a barge-in interruption fires. */
  interruptionMs: z.number().int().min(0).default(150),
  /**
   * Silero sessions built at start-up. Sessions are reused across calls; building one blocks the event loop
   * for 50-250 ms, so a call beyond the warm ones stalls the other calls' audio once. Set to the expected peak.
   */
  prewarmSessions: z.number().int().min(1).max(64).default(4),
});

export const asrConfig = z.strictObject({
  provider: z.enum(['whisper-cpp', 'openai']).default('whisper-cpp'),
  whisperCpp: z
    .strictObject({
      model: z.string().default('base.en'),
      modelDir: z.string().default('models'),
      /** Explicit model file; overrides model + modelDir. */
      modelPath: z.string().optional(),
      device: z.enum(['cpu', 'cuda']).default('cpu'),
      /**
       * Requests run at once (each on `threads` cores). Two single-thread requests keep a final result from
       * waiting behind another request and, on a shared or small CPU, avoid ggml's spinning worker threads
       * (2 threads on a busy 2-core host cost 5-10x the single-thread time). Keep threads x parallelism <= cores.
       */
      parallelism: z.number().int().min(1).max(16).default(2),
      threads: z.number().int().min(1).max(64).default(1),
      queueLimit: z.number().int().min(1).default(64),
      partialIntervalMs: z.number().int().min(100).default(500),
      language: z.string().default('en'),
      initialPrompt: z.string().default(''),
      /**
       * Fewest encoder frames (20 ms each) per request. Requests use about one frame per 20 ms of audio, so a
       * 2 s turn does not pay for whisper's full 30 s window; 1500 turns the scaling off.
       */
      audioCtxMin: z.number().int().min(64).max(1500).default(256),
      /**
       * Most tokens decoded per second of audio (at least 1 per request); 0 leaves whisper.cpp's own limit (224
       * per request). Bounds the decoder on a hallucination loop; the benches set the rate trained models emit
       * on the shared clips, so their random-weight models decode as many steps as a real one.
       */
      maxTokensPerSecond: z.number().min(0).max(50).default(0),
      /** Download a missing catalog model at start-up (from downloadBaseUrl). */
      autoDownload: z.boolean().default(true),
      /** Model host (whisper.cpp's published ggml files); VOICEBOT_MODEL_BASE_URL and --base-url override it. */
      downloadBaseUrl: z.string().url().optional(),
    })
    .prefault({}),
  openai: z
    .strictObject({
      baseUrl: z.string().url().default('http://127.0.0.1:8000/v1'),
      apiKey: secret().optional(),
      model: z.string().default('Systran/faster-whisper-small.en'),
      timeoutMs: z.number().int().min(100).default(15_000),
      retries: z.number().int().min(0).max(10).default(2),
      language: z.string().default('en'),
      prompt: z.string().default(''),
    })
    .prefault({}),
});

export const ttsConfig = z.strictObject({
  provider: z.enum(['espeak-ng', 'coqui', 'openai', 'sherpa-onnx']).default('espeak-ng'),
  /** LRU cache of synthesized sentences (text + voice + provider); 0 turns it off. */
  cacheEntries: z.number().int().min(0).default(256),
  /** Speak sentence by sentence: the first plays while the next is synthesized. */
  splitSentences: z.boolean().default(true),
  espeak: z
    .strictObject({
      binary: z.string().default('espeak-ng'),
      voice: z.string().default('en-us'),
      wordsPerMinute: z.number().int().min(80).max(450).default(175),
      /** longest one sentence may take to synthesize */
      timeoutMs: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  coqui: z
    .strictObject({
      baseUrl: z.string().url().default('http://127.0.0.1:5002'),
      speakerId: z.string().optional(),
      timeoutMs: z.number().int().min(100).default(10_000),
    })
    .prefault({}),
  openai: z
    .strictObject({
      baseUrl: z.string().url().default('http://127.0.0.1:8880/v1'),
      apiKey: secret().optional(),
      model: z.string().default('tts-1'),
      voice: z.string().default('alloy'),
      timeoutMs: z.number().int().min(100).default(10_000),
      /** wav (any rate, read from the header) or pcm (raw 16-bit at pcmSampleRate) */
      responseFormat: z.enum(['wav', 'pcm']).default('wav'),
      pcmSampleRate: z.number().int().min(8000).max(48_000).default(24_000),
      speed: z.number().min(0.25).max(4).default(1),
    })
    .prefault({}),
  sherpaOnnx: z
    .strictObject({
      /** Piper voices are VITS models; Kokoro needs voicesPath; Matcha needs vocoderPath (modelPath = acoustic model). */
      kind: z.enum(['vits', 'kokoro', 'matcha']).default('vits'),
      modelPath: z.string().optional(),
      tokensPath: z.string().optional(),
      dataDir: z.string().optional(),
      lexiconPath: z.string().optional(),
      voicesPath: z.string().optional(),
      vocoderPath: z.string().optional(),
      speakerId: z.number().int().min(0).default(0),
      speed: z.number().min(0.25).max(4).default(1),
      numThreads: z.number().int().min(1).max(16).default(1),
    })
    .prefault({}),
});

export const speechConfig = z.strictObject({
  vad: vadConfig.prefault({}),
  asr: asrConfig.prefault({}),
  tts: ttsConfig.prefault({}),
});
export type SpeechConfig = z.infer<typeof speechConfig>;
