/** Public entry point `voicebot/media`: framing, resampling, paced playout and G.711 for a backend's media edge. */
export { FrameChunker, samplesPerFrame } from './frames.js';
export { Resampler, resample } from './resampler.js';
export { Pacer, type PacerOptions } from './pacer.js';
export { sharedPacerGroup } from './pacer-group.js';
export { alawDecode, alawEncode, mulawDecode, mulawEncode } from './g711.js';
export { concatPcm } from './pcm.js';
