/** Public entry point `voicebot/media`: framing, resampling, paced playout and G.711 for a backend's media edge. */
export { FrameChunker, samplesPerFrame } from './frames.js';
export { IncomingClock, SampleCountClock } from './incoming-clock.js';
export { Resampler, resample } from './resampler.js';
export { Pacer, sentAt, type PacerOptions } from './pacer.js';
export { sharedPacerGroup } from './pacer-group.js';
export { alawDecode, alawEncode, mulawDecode, mulawEncode } from './g711.js';
export { concatPcm } from './pcm.js';
