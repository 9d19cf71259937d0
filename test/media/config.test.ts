import { describe, expect, it } from 'vitest';
import { mediaConfig } from '../../src/media/config.js';
import { jitterBufferOptions, pacerConfigOptions } from '../../src/media/from-config.js';

describe('media config', () => {
  it('has defaults for every knob', () => {
    expect(mediaConfig.parse({})).toEqual({
      jitterBufferFrames: 3,
      jitterMaxFrames: 10,
      concealment: 'fade',
      silenceFill: true,
      pacerMaxCatchUpFrames: 5,
    });
  });

  it('rejects bad values and unknown keys with a clear path', () => {
    expect(() => mediaConfig.parse({ jitterBufferFrames: 0 })).toThrow(/jitterBufferFrames/);
    expect(() => mediaConfig.parse({ concealment: 'loud' })).toThrow(/concealment/);
    expect(() => mediaConfig.parse({ jitterDepth: 3 })).toThrow(/jitterDepth/);
  });
});

describe('options from config', () => {
  it('maps the media section onto JitterBuffer and Pacer options', () => {
    const media = mediaConfig.parse({ jitterBufferFrames: 12, concealment: 'silence', silenceFill: false });
    expect(jitterBufferOptions(media, 160)).toEqual({
      depthFrames: 12,
      maxFrames: 12,
      conceal: 'silence',
      frameSamples: 160,
    });
    expect(pacerConfigOptions(media)).toEqual({ silenceFill: false, maxCatchUpFrames: 5 });
  });
});
