import type { MediaConfig } from './config.js';
import type { JitterBufferOptions } from './jitter-buffer.js';
import type { PacerOptions } from './pacer.js';

/** JitterBuffer options from the `media` config section. */
export function jitterBufferOptions(media: MediaConfig, frameSamples: number): JitterBufferOptions {
  return {
    depthFrames: media.jitterBufferFrames,
    maxFrames: Math.max(media.jitterMaxFrames, media.jitterBufferFrames),
    conceal: media.concealment,
    frameSamples,
  };
}

/** The Pacer options the `media` config section decides (add frameSamples and onFrame). */
export function pacerConfigOptions(media: MediaConfig): Pick<PacerOptions, 'silenceFill' | 'maxCatchUpFrames'> {
  return { silenceFill: media.silenceFill, maxCatchUpFrames: media.pacerMaxCatchUpFrames };
}
