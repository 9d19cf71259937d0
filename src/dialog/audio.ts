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
