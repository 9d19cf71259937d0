import { z } from 'zod';
import { secret } from '../config/secret.js';
import { echoConfig } from './echo/config.js';

/** Speech section. Owned by the speech concern; providers each get a sub-object. */
export const vadConfig = z.strictObject({
  /** Silero VAD v5, shipped in the repository (MIT, see models/README.md). */
  modelPath: z
    .string()
    .default('models/silero_vad_v5.onnx')
    .describe('Silero VAD v5 ONNX model file (shipped in models/).'),
  threshold: z
    .number()
    .min(0.05)
    .max(0.99)
    .default(0.5)
    .describe('Speech probability above which a window counts as speech.'),
  minSpeechMs: z.number().int().min(0).default(200).describe('Shorter sounds (clicks, coughs) are ignored, ms.'),
  endOfTurnSilenceMs: z
    .number()
    .int()
    .min(50)
    .default(500)
    .describe(
      "Silence that ends the caller's turn, ms. Lower answers sooner but cuts turns at pauses inside sentences.",
    ),
  preRollMs: z.number().int().min(0).default(300).describe('Audio kept before the detected start of speech, ms.'),
  maxUtteranceMs: z
    .number()
    .int()
    .min(1000)
    .default(30_000)
    .describe('Longer speech is split into several utterances, ms.'),
  /**
   * Speech needed before a barge-in interruption fires. 100 ms: on the barge-in bench (docs/barge-in.md) the caller is
   * heard ~85 ms sooner than at 150 (median), with no more false barge-ins from echo; a shorter noise that stops the
   * bot is a false interruption and the prompt resumes.
   */
  interruptionMs: z
    .number()
    .int()
    .min(0)
    .default(100)
    .describe('Speech needed while the bot talks before it counts as barge-in, ms.'),
  /**
   * Silero sessions built at start-up. Sessions are reused across calls; building one blocks the event loop
   * for 50-250 ms, so a call beyond the warm ones stalls the other calls' audio once. Set to the expected peak.
   */
  prewarmSessions: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('Silero sessions built at start-up and reused by calls; set to your peak concurrent calls.'),
  /**
   * Silero inference (~0.3 ms per 32 ms window per call) and session building (50-250 ms) on the event loop
   * stall every call's audio pacer; in worker threads they run beside it. Events then come one frame later.
   */
  inferenceThreads: z
    .number()
    .int()
    .min(0)
    .max(16)
    .default(1)
    .describe(
      'Worker threads that run Silero VAD inference off the event loop (calls are spread over them); 0 runs it on the event loop.',
    ),
});

export const asrConfig = z.strictObject({
  provider: z
    .enum(['whisper-cpp', 'openai'])
    .default('whisper-cpp')
    .describe('Speech recognition: whisper.cpp in-process, or an OpenAI-compatible server.'),
  whisperCpp: z
    .strictObject({
      model: z.string().default('base.en').describe('whisper.cpp catalog model name (see `voicebot models list`).'),
      modelDir: z
        .string()
        .default('models')
        .describe('Directory that holds (and receives downloaded) whisper.cpp models.'),
      /** Explicit model file; overrides model + modelDir. */
      modelPath: z.string().optional().describe('Explicit model file; overrides model + modelDir.'),
      device: z
        .enum(['cpu', 'cuda'])
        .default('cpu')
        .describe('cpu, or cuda (needs the CUDA build: node scripts/build-whisper.mjs --cuda).'),
      /**
       * Requests run at once (each on `threads` cores). Two single-thread requests keep a final result from
       * waiting behind another request and, on a shared or small CPU, avoid ggml's spinning worker threads
       * (2 threads on a busy 2-core host cost 5-10x the single-thread time). Keep threads x parallelism <= cores.
       */
      parallelism: z
        .number()
        .int()
        .min(1)
        .max(16)
        .default(2)
        .describe(
          'Recognitions at once; finals jump ahead of partials and the last slot is kept for finals. Keep threads × parallelism ≤ cores.',
        ),
      threads: z.number().int().min(1).max(64).default(1).describe('CPU threads per recognition.'),
      queueLimit: z
        .number()
        .int()
        .min(1)
        .default(64)
        .describe(
          'Recognitions that may wait; beyond this a request fails at once (AsrBusyError) and the caller is asked to repeat.',
        ),
      partialIntervalMs: z
        .number()
        .int()
        .min(100)
        .default(500)
        .describe('A partial result about every this many ms of new audio while the caller speaks.'),
      language: z.string().default('en').describe('Spoken language (ISO code).'),
      initialPrompt: z.string().default('').describe('Domain words to bias recognition (names, products).'),
      /**
       * Fewest encoder frames (20 ms each) per request. Requests use about one frame per 20 ms of audio, so a
       * 2 s turn does not pay for whisper's full 30 s window; 1500 turns the scaling off.
       */
      audioCtxMin: z
        .number()
        .int()
        .min(64)
        .max(1500)
        .default(256)
        .describe(
          'Fewest encoder frames (20 ms each) per request: short turns do not pay for the full 30 s window; 1500 turns the scaling off.',
        ),
      /**
       * Most tokens decoded per second of audio (at least 1 per request); 0 leaves whisper.cpp's own limit (224
       * per request). Bounds the decoder on a hallucination loop; the benches set the rate trained models emit
       * on the shared clips, so their random-weight models decode as many steps as a real one.
       */
      maxTokensPerSecond: z
        .number()
        .min(0)
        .max(50)
        .default(0)
        .describe(
          "Most tokens decoded per second of audio (at least 1 per request); 0 leaves whisper.cpp's own limit (224 per request). Bounds the decoder on a hallucination loop.",
        ),
      /** Download a missing catalog model at start-up (from downloadBaseUrl). */
      autoDownload: z.boolean().default(true).describe('`voicebot start` downloads a missing catalog model.'),
      /** Model host (whisper.cpp's published ggml files); VOICEBOT_MODEL_BASE_URL and --base-url override it. */
      downloadBaseUrl: z
        .string()
        .url()
        .optional()
        .describe(
          "Model host or mirror (default: whisper.cpp's published files on Hugging Face); VOICEBOT_MODEL_BASE_URL and --base-url override it.",
        ),
    })
    .prefault({}),
  openai: z
    .strictObject({
      baseUrl: z
        .string()
        .url()
        .default('http://127.0.0.1:8000/v1')
        .describe('OpenAI-compatible API base (speaches, faster-whisper-server, https://api.openai.com/v1).'),
      apiKey: secret().optional().describe('API key, sent as Bearer.'),
      model: z
        .string()
        .default('Systran/faster-whisper-small.en')
        .describe('Model name the server knows (whisper-1 on OpenAI).'),
      timeoutMs: z.number().int().min(100).default(15_000).describe('Bound on each attempt, ms.'),
      retries: z
        .number()
        .int()
        .min(0)
        .max(10)
        .default(2)
        .describe('Retries after 5xx, 429 and network errors, with exponential backoff.'),
      language: z.string().default('en').describe('Spoken language (ISO code).'),
      prompt: z.string().default('').describe('Prompt that biases recognition.'),
    })
    .prefault({}),
});

export const ttsConfig = z.strictObject({
  provider: z
    .enum(['espeak-ng', 'coqui', 'openai', 'sherpa-onnx'])
    .default('espeak-ng')
    .describe(
      'Voice: espeak-ng (offline, default), a Coqui TTS server, an OpenAI-compatible server, or sherpa-onnx voices you download.',
    ),
  /** LRU cache of synthesized sentences (text + voice + provider); 0 turns it off. */
  cacheEntries: z
    .number()
    .int()
    .min(0)
    .default(256)
    .describe('LRU cache of synthesized sentences (text + voice + provider); 0 turns it off.'),
  /** Speak sentence by sentence: the first plays while the next is synthesized. */
  splitSentences: z
    .boolean()
    .default(true)
    .describe('Speak sentence by sentence: the first plays while the next is synthesized.'),
  espeak: z
    .strictObject({
      /**
       * auto: the espeak-ng program when it is installed, else the same synthesizer compiled to WebAssembly (npm
       * package, installed with the bot), so the default voice works without system packages.
       */
      engine: z
        .enum(['auto', 'binary', 'wasm'])
        .default('auto')
        .describe(
          'auto: the espeak-ng program when installed, else its WebAssembly build from npm; binary: the program only; wasm: the npm build only.',
        ),
      binary: z.string().default('espeak-ng').describe('espeak-ng program to run.'),
      voice: z.string().default('en-us').describe('espeak-ng voice (`espeak-ng --voices`).'),
      wordsPerMinute: z.number().int().min(80).max(450).default(175).describe('Speaking rate.'),
      /** longest one sentence may take to synthesize */
      timeoutMs: z.number().int().min(100).default(10_000).describe('Longest one sentence may take to synthesize, ms.'),
    })
    .prefault({}),
  coqui: z
    .strictObject({
      baseUrl: z
        .string()
        .url()
        .default('http://127.0.0.1:5002')
        .describe('Coqui TTS server (tts-server), GET /api/tts.'),
      speakerId: z.string().optional().describe('Speaker of a multi-speaker model.'),
      timeoutMs: z.number().int().min(100).default(10_000).describe('Bound on one request, ms.'),
    })
    .prefault({}),
  openai: z
    .strictObject({
      baseUrl: z
        .string()
        .url()
        .default('http://127.0.0.1:8880/v1')
        .describe('OpenAI-compatible API base: POST /audio/speech (OpenAI, Kokoro-FastAPI, speaches).'),
      apiKey: secret().optional().describe('API key, sent as Bearer.'),
      model: z.string().default('tts-1').describe('TTS model name.'),
      voice: z.string().default('alloy').describe('Voice name.'),
      timeoutMs: z.number().int().min(100).default(10_000).describe('Bound on one request, ms.'),
      /** wav (any rate, read from the header) or pcm (raw 16-bit at pcmSampleRate) */
      responseFormat: z
        .enum(['wav', 'pcm'])
        .default('wav')
        .describe('wav (any rate, read from the header) or pcm (raw 16-bit at pcmSampleRate).'),
      pcmSampleRate: z
        .number()
        .int()
        .min(8000)
        .max(48_000)
        .default(24_000)
        .describe('Sample rate of pcm responses, Hz.'),
      speed: z.number().min(0.25).max(4).default(1).describe('Speaking speed factor.'),
    })
    .prefault({}),
  sherpaOnnx: z
    .strictObject({
      /** Piper voices are VITS models; Kokoro needs voicesPath; Matcha needs vocoderPath (modelPath = acoustic model). */
      kind: z
        .enum(['vits', 'kokoro', 'matcha'])
        .default('vits')
        .describe('Model family: vits (Piper voices), kokoro (needs voicesPath), matcha (needs vocoderPath).'),
      modelPath: z.string().optional().describe('Model file (.onnx); for matcha the acoustic model.'),
      tokensPath: z.string().optional().describe('tokens.txt of the voice.'),
      dataDir: z.string().optional().describe('espeak-ng-data directory shipped with the voice.'),
      lexiconPath: z.string().optional().describe('Lexicon file, for voices that have one.'),
      voicesPath: z.string().optional().describe('voices.bin (kokoro).'),
      vocoderPath: z.string().optional().describe('Vocoder model (matcha).'),
      speakerId: z.number().int().min(0).default(0).describe('Speaker of a multi-speaker voice.'),
      speed: z.number().min(0.25).max(4).default(1).describe('Speaking speed factor.'),
      numThreads: z.number().int().min(1).max(16).default(1).describe('CPU threads for synthesis.'),
    })
    .prefault({}),
});

export const speechConfig = z.strictObject({
  vad: vadConfig.prefault({}),
  echo: echoConfig.prefault({}),
  asr: asrConfig.prefault({}),
  tts: ttsConfig.prefault({}),
});
export type SpeechConfig = z.infer<typeof speechConfig>;
