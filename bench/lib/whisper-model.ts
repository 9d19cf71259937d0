/**
 * The whisper model a bench runs: a seeded random-weight file with the exact shape of `tiny.en` or `base.en`
 * (scripts/bench-whisper-model.ts; base.en, the product default, unless BENCH_WHISPER_SHAPE says otherwise),
 * decoding capped at the token rate trained models emit on the shared clips. `fields` goes on every figure.
 */
import {
  RANDOM_WEIGHTS_NOTE,
  benchShapeFromEnv,
  ensureBenchModel,
  tokensPerSecondOfSpeech,
  type BenchShape,
} from '../../scripts/bench-whisper-model.js';

export interface BenchWhisper {
  shape: BenchShape;
  modelPath: string;
  /** speech.asr.whisperCpp.maxTokensPerSecond for the bench */
  maxTokensPerSecond: number;
  fields: { whisperShape: BenchShape; whisperWeights: string; decodeTokensPerSecond: number };
}

export async function benchWhisper(shape: BenchShape = benchShapeFromEnv()): Promise<BenchWhisper> {
  const modelPath = ensureBenchModel(shape);
  const { rate } = await tokensPerSecondOfSpeech();
  return {
    shape,
    modelPath,
    maxTokensPerSecond: rate,
    fields: { whisperShape: shape, whisperWeights: RANDOM_WEIGHTS_NOTE, decodeTokensPerSecond: rate },
  };
}
