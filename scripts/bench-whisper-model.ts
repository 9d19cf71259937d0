/**
 * Bench whisper models: ggml files with the exact tensor names, shapes and types of whisper.cpp's `tiny.en` and
 * `base.en`, filled with seeded random weights, built from the shipped weightless test model's header, mel filters
 * and vocabulary. They cost what the real models cost per encoder frame and per decoder step, but recognise
 * nothing: a decode runs until `max_tokens` (random weights almost never pick end-of-text), so benches cap it at
 * the token count a trained model would emit for the utterance (`tokensPerSecondOfSpeech`, from the shared
 * transcripts). The files are written under `.cache/bench-models/` (not committed) and reused while their
 * size matches the published model's (plus the test model's vocabulary difference, see STUB_VOCAB_EXTRA_BYTES).
 *
 *   npx tsx scripts/bench-whisper-model.ts [tiny.en|base.en ...]   # writes them and prints their paths
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/core/random.js';
import { WHISPER_MODELS } from '../src/speech/models/catalog.js';
import { readWavFile } from '../src/media/wav.js';
import { REPO_ROOT, STUB_WHISPER, TRANSCRIPTS_TSV, clip } from '../test/helpers/fixtures.js';

export type BenchShape = 'tiny.en' | 'base.en';
export const BENCH_SHAPES: readonly BenchShape[] = ['tiny.en', 'base.en'];
/** The product's default model (speech.asr.whisperCpp.model): benches use its shape unless told otherwise. */
export const DEFAULT_BENCH_SHAPE: BenchShape = 'base.en';
export const BENCH_MODEL_DIR = join(REPO_ROOT, '.cache', 'bench-models');
/** Printed with every figure that ran one of these models. */
export const RANDOM_WEIGHTS_NOTE = 'seeded random weights: real compute per frame and token, no real words';

/** whisper.cpp's hyper-parameters for the English-only models (text and audio sides have the same width). */
const DIMS: Record<BenchShape, { state: number; heads: number; layers: number }> = {
  'tiny.en': { state: 384, heads: 6, layers: 4 },
  'base.en': { state: 512, heads: 8, layers: 6 },
};

/**
 * The shipped test model stores 352 of GPT-2's byte-level tokens (partial UTF-8 sequences) as U+FFFD, 601 bytes
 * more than the published files' vocabulary: a bench model is the published size plus exactly this.
 */
const STUB_VOCAB_EXTRA_BYTES = 601;

const F32 = 0;
const F16 = 1;

interface TensorSpec {
  name: string;
  /** ggml order: ne[0] is the innermost (contiguous) dimension */
  ne: number[];
  type: typeof F32 | typeof F16;
  init: 'ones' | 'zeros' | { scale: number };
}

interface StubParts {
  nVocab: number;
  nAudioCtx: number;
  nTextCtx: number;
  nMels: number;
  /** mel filters + vocabulary, copied byte for byte */
  melAndVocab: Buffer;
  vocab: string[];
}

function readStub(): StubParts {
  const b = readFileSync(STUB_WHISPER);
  if (b.readUInt32LE(0) !== 0x67676d6c) throw new Error(`${STUB_WHISPER} is not a ggml whisper file`);
  const h = Array.from({ length: 11 }, (_, i) => b.readInt32LE(4 + i * 4));
  const melStart = 4 + 11 * 4;
  const nMel = b.readInt32LE(melStart);
  const nFft = b.readInt32LE(melStart + 4);
  let at = melStart + 8 + nMel * nFft * 4;
  const nVocabFile = b.readInt32LE(at);
  at += 4;
  const vocab: string[] = [];
  for (let i = 0; i < nVocabFile; i++) {
    const len = b.readUInt32LE(at);
    vocab.push(b.toString('utf8', at + 4, at + 4 + len));
    at += 4 + len;
  }
  if (at !== b.length) throw new Error(`${STUB_WHISPER}: expected no tensors after the vocabulary`);
  return {
    nVocab: h[0]!,
    nAudioCtx: h[1]!,
    nTextCtx: h[5]!,
    nMels: h[9]!,
    melAndVocab: b.subarray(melStart, at),
    vocab,
  };
}

/** Every tensor whisper.cpp's loader expects (whisper_model_load), with the converter's types (F32 for 1-D, biases of the convolutions and positional embeddings, F16 otherwise). */
export function tensorSpecs(shape: BenchShape, p: Pick<StubParts, 'nVocab' | 'nAudioCtx' | 'nTextCtx' | 'nMels'>) {
  const { state: s, layers } = DIMS[shape];
  const w = (name: string, ne: number[], fanIn: number): TensorSpec => ({
    name,
    ne,
    type: F16,
    init: { scale: Math.sqrt(3 / fanIn) },
  });
  const bias = (name: string, n: number): TensorSpec => ({ name, ne: [n], type: F32, init: 'zeros' });
  const ln = (prefix: string): TensorSpec[] => [
    { name: `${prefix}.weight`, ne: [s], type: F32, init: 'ones' },
    bias(`${prefix}.bias`, s),
  ];
  const attn = (prefix: string): TensorSpec[] => [
    w(`${prefix}.query.weight`, [s, s], s),
    bias(`${prefix}.query.bias`, s),
    w(`${prefix}.key.weight`, [s, s], s),
    w(`${prefix}.value.weight`, [s, s], s),
    bias(`${prefix}.value.bias`, s),
    w(`${prefix}.out.weight`, [s, s], s),
    bias(`${prefix}.out.bias`, s),
  ];
  const mlp = (prefix: string): TensorSpec[] => [
    ...ln(`${prefix}.mlp_ln`),
    w(`${prefix}.mlp.0.weight`, [s, 4 * s], s),
    bias(`${prefix}.mlp.0.bias`, 4 * s),
    w(`${prefix}.mlp.2.weight`, [4 * s, s], 4 * s),
    bias(`${prefix}.mlp.2.bias`, s),
  ];
  const specs: TensorSpec[] = [
    { name: 'encoder.positional_embedding', ne: [s, p.nAudioCtx], type: F32, init: { scale: 1 } },
    w('encoder.conv1.weight', [3, p.nMels, s], 3 * p.nMels),
    { name: 'encoder.conv1.bias', ne: [1, s], type: F32, init: 'zeros' },
    w('encoder.conv2.weight', [3, s, s], 3 * s),
    { name: 'encoder.conv2.bias', ne: [1, s], type: F32, init: 'zeros' },
    ...ln('encoder.ln_post'),
  ];
  for (let i = 0; i < layers; i++) {
    const b = `encoder.blocks.${i}`;
    specs.push(...mlp(b), ...ln(`${b}.attn_ln`), ...attn(`${b}.attn`));
  }
  specs.push(
    { name: 'decoder.positional_embedding', ne: [s, p.nTextCtx], type: F32, init: { scale: 0.02 } },
    w('decoder.token_embedding.weight', [s, p.nVocab], s),
    ...ln('decoder.ln'),
  );
  for (let i = 0; i < layers; i++) {
    const b = `decoder.blocks.${i}`;
    specs.push(
      ...mlp(b),
      ...ln(`${b}.attn_ln`),
      ...attn(`${b}.attn`),
      ...ln(`${b}.cross_attn_ln`),
      ...attn(`${b}.cross_attn`),
    );
  }
  return specs;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** IEEE half from a float in the normal range used here (|x| < 65504, values below 2^-14 flush to zero). */
function toHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign; // flush tiny values: no denormals to slow the kernels down
  const mantissa = (bits >>> 13) & 0x3ff;
  return sign | (Math.min(exp, 30) << 10) | mantissa;
}

function tensorBytes(spec: TensorSpec, random: () => number): Buffer {
  const n = spec.ne.reduce((a, b) => a * b, 1);
  if (spec.type === F32) {
    const data = new Float32Array(n);
    if (spec.init === 'ones') data.fill(1);
    else if (spec.init !== 'zeros') {
      const { scale } = spec.init;
      for (let i = 0; i < n; i++) data[i] = (random() * 2 - 1) * scale;
    }
    return Buffer.from(data.buffer);
  }
  const data = new Uint16Array(n);
  const scale = spec.init === 'ones' || spec.init === 'zeros' ? 0 : spec.init.scale;
  for (let i = 0; i < n; i++) data[i] = toHalf((random() * 2 - 1) * scale);
  return Buffer.from(data.buffer);
}

function tensorHeader(spec: TensorSpec): Buffer {
  const name = Buffer.from(spec.name, 'utf8');
  const head = Buffer.alloc(12 + 4 * spec.ne.length);
  head.writeInt32LE(spec.ne.length, 0);
  head.writeInt32LE(name.length, 4);
  head.writeInt32LE(spec.type, 8);
  spec.ne.forEach((n, i) => head.writeInt32LE(n, 12 + 4 * i));
  return Buffer.concat([head, name]);
}

export function benchModelPath(shape: BenchShape, dir = BENCH_MODEL_DIR): string {
  return join(dir, `bench-random-ggml-${shape}.bin`);
}

/**
 * Writes the bench model for `shape` unless a file of the right size is there; returns its path. The size is the
 * published model's byte for byte (same header, vocabulary, tensor names and types), which checks the layout.
 */
export function ensureBenchModel(shape: BenchShape, dir = BENCH_MODEL_DIR): string {
  const path = benchModelPath(shape, dir);
  const expected = WHISPER_MODELS[shape]!.bytes + STUB_VOCAB_EXTRA_BYTES;
  if (existsSync(path) && statSync(path).size === expected) return path;
  mkdirSync(dir, { recursive: true });
  const stub = readStub();
  const { state, heads, layers } = DIMS[shape];
  const header = Buffer.alloc(4 + 11 * 4);
  header.writeUInt32LE(0x67676d6c, 0);
  [stub.nVocab, stub.nAudioCtx, state, heads, layers, stub.nTextCtx, state, heads, layers, stub.nMels, 1].forEach(
    (v, i) => header.writeInt32LE(v, 4 + i * 4),
  );
  // Write beside the final name, then rename: a concurrent bench never reads a half-written model.
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, header);
    writeSync(fd, stub.melAndVocab);
    const random = mulberry32(0x5eed + layers);
    for (const spec of tensorSpecs(shape, stub)) {
      writeSync(fd, tensorHeader(spec));
      writeSync(fd, tensorBytes(spec, random));
    }
  } finally {
    closeSync(fd);
  }
  const size = statSync(tmp).size;
  if (size !== expected)
    throw new Error(`bench model ${shape}: wrote ${size} bytes, the real model's layout gives ${expected}`);
  renameSync(tmp, path);
  return path;
}

/**
 * Greedy longest-match token count of `text` with whisper's vocabulary (GPT-2 byte-level BPE, each entry stored
 * as its bytes): within a token or two of the real BPE on ordinary English.
 */
export function countTokens(text: string, vocab: ReadonlySet<string>, longest: number): number {
  let n = 0;
  let at = 0;
  while (at < text.length) {
    let len = Math.min(longest, text.length - at);
    while (len > 1 && !vocab.has(text.slice(at, at + len))) len--;
    at += len;
    n++;
  }
  return n;
}

/** Whisper's usual rendering of a LibriSpeech reference: sentence case, the rest lower case. */
function asWhisperWrites(reference: string): string {
  const t = reference.trim();
  return t === t.toUpperCase() ? ` ${t.charAt(0)}${t.slice(1).toLowerCase()}` : ` ${t}`;
}

/**
 * Text tokens a trained model emits per second of speech on the shared clips: the transcripts tokenised with the
 * model's vocabulary over the clips' total length. Benches cap decoding at this rate (speech.asr.whisperCpp.
 * maxTokensPerSecond) so the random-weight decoder runs the steps a trained one would.
 */
export async function tokensPerSecondOfSpeech(): Promise<{ rate: number; tokens: number; seconds: number }> {
  const vocabList = readStub().vocab;
  const vocab = new Set(vocabList);
  const longest = vocabList.reduce((m, v) => Math.max(m, v.length), 0);
  let tokens = 0;
  let seconds = 0;
  for (const line of readFileSync(TRANSCRIPTS_TSV, 'utf8').trim().split('\n')) {
    const [file, reference] = line.split('\t') as [string, string];
    const wav = await readWavFile(clip(file));
    seconds += wav.samples.length / wav.sampleRate;
    tokens += countTokens(asWhisperWrites(reference), vocab, longest);
  }
  return { rate: Number((tokens / seconds).toFixed(2)), tokens, seconds: Number(seconds.toFixed(1)) };
}

/** Which shape a bench runs: BENCH_WHISPER_SHAPE, else the product default. */
export function benchShapeFromEnv(): BenchShape {
  const v = process.env.BENCH_WHISPER_SHAPE ?? DEFAULT_BENCH_SHAPE;
  if (!BENCH_SHAPES.includes(v as BenchShape))
    throw new Error(`BENCH_WHISPER_SHAPE=${v}: expected one of ${BENCH_SHAPES.join(', ')}`);
  return v as BenchShape;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const shapes = (process.argv.slice(2).length ? process.argv.slice(2) : BENCH_SHAPES) as BenchShape[];
  for (const shape of shapes) {
    if (!BENCH_SHAPES.includes(shape)) throw new Error(`unknown shape ${shape}`);
    const t = performance.now();
    const path = ensureBenchModel(shape);
    console.log(`${shape}: ${path} (${Math.round(performance.now() - t)} ms)`);
  }
  console.log(JSON.stringify(await tokensPerSecondOfSpeech()));
}
