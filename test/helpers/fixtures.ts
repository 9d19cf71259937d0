/**
 * Test fixtures shipped inside the repository (sources and licences: test/fixtures/NOTICE.md), so a clone with
 * nothing beside it runs its own tests. Every test and bench takes its paths from here.
 */
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURES_DIR = join(REPO_ROOT, 'test', 'fixtures');
/** 11 real speech clips, 16 kHz mono PCM16, with TRANSCRIPTS.tsv (`file<TAB>text`). */
export const AUDIO_DIR = join(FIXTURES_DIR, 'audio');
export const TRANSCRIPTS_TSV = join(AUDIO_DIR, 'TRANSCRIPTS.tsv');
/**
 * A valid whisper.cpp file with tiny.en's shapes and no weights: loads, runs the encoder, decodes one step, no text.
 * Plumbing tests only; benches use scripts/bench-whisper-model.ts (real decoder steps).
 */
export const STUB_WHISPER = join(FIXTURES_DIR, 'models', 'for-tests-ggml-tiny.en.bin');
/** Repo-relative form of STUB_WHISPER, for configs resolved against the repository root. */
export const STUB_WHISPER_REL = 'test/fixtures/models/for-tests-ggml-tiny.en.bin';
/** The Silero VAD v5 model the product ships as its default. */
export const VAD_MODEL = join(REPO_ROOT, 'models', 'silero_vad_v5.onnx');

/** Absolute path of one shipped clip, e.g. `clip('jfk.wav')`. */
export function clip(name: string): string {
  return join(AUDIO_DIR, name);
}
