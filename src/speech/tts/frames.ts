import { FrameChunker, samplesPerFrame } from '../../media/frames.js';
import { mulawEncode } from '../../media/g711.js';
import { Resampler } from '../../media/resampler.js';
import type { Tts, TtsOptions } from '../types.js';

/**
 * Speech for `text` as 20 ms PCM16 frames at `outRate` (resampled from whatever the provider produces); the
 * last frame is padded with silence. Stops before the next frame once `signal` aborts.
 */
export async function* ttsToFrames(
  tts: Tts,
  text: string,
  outRate: number,
  options: TtsOptions = {},
): AsyncGenerator<Int16Array> {
  const chunker = new FrameChunker(samplesPerFrame(outRate));
  const signal = options.signal;
  let resampler: Resampler | null = null;
  let inRate = 0;
  const frames = function* (pcm: Int16Array): Generator<Int16Array> {
    for (const frame of chunker.push(pcm)) yield frame;
  };
  for await (const chunk of tts.synthesize(text, options)) {
    if (signal?.aborted) return;
    if (chunk.sampleRate !== inRate) {
      if (resampler) yield* frames(resampler.flush());
      inRate = chunk.sampleRate;
      resampler = inRate === outRate ? null : new Resampler(inRate, outRate);
    }
    for (const frame of frames(resampler ? resampler.process(chunk.pcm) : chunk.pcm)) {
      if (signal?.aborted) return;
      yield frame;
    }
  }
  if (signal?.aborted) return;
  if (resampler) yield* frames(resampler.flush());
  const last = chunker.flush(true);
  if (last) yield last;
}

/** The same as 160-byte G.711 μ-law frames for an 8 kHz phone leg. */
export async function* ttsToMulawFrames(tts: Tts, text: string, options: TtsOptions = {}): AsyncGenerator<Uint8Array> {
  for await (const frame of ttsToFrames(tts, text, 8000, options)) yield mulawEncode(frame);
}
