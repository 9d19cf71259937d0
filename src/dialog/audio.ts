import { Resampler } from '../media/resampler.js';

/** Streaming sample-rate conversion; identity when the rates match (no filter delay, no copy). */
export interface RateConverter {
  process(pcm: Int16Array): Int16Array;
  flush(): Int16Array;
}

const EMPTY = new Int16Array(0);

export function rateConverter(fromRate: number, toRate: number): RateConverter {
  if (fromRate === toRate) return { process: (pcm) => pcm, flush: () => EMPTY };
  return new Resampler(fromRate, toRate);
}

export function concatPcm(chunks: readonly Int16Array[]): Int16Array {
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Int16Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
