import { gaussian, mulberry32 } from '../core/random.js';
import { mulawDecode, mulawEncode } from './g711.js';

/**
 * A simulated echo path, for tests and benches: the bot's own audio coming back into its input, as on a real phone
 * line (hybrid or acoustic echo) — delayed, attenuated by the echo return loss, coloured by a short impulse response,
 * with optional line noise and a μ-law hop. Seeded: the same options give the same samples.
 */
export interface EchoPathOptions {
  sampleRate: number;
  /** echo delay, ms (real lines: 20–300); at least one 20 ms frame */
  delayMs: number;
  /** echo return loss: how far below the bot's level the echo comes back, dB (real lines: 6–30) */
  erlDb: number;
  /** impulse-response taps (scaled to the ERL); default: a seeded 2 ms decaying response, like a hybrid's */
  impulse?: readonly number[];
  /** line noise, dBFS RMS (white, seeded); none when undefined */
  noiseDbfs?: number;
  /** the returning line is G.711 μ-law (encode then decode) */
  mulaw?: boolean;
  seed?: number;
}

/** Samples of bot audio kept: the longest delay plus the impulse response plus bursts, with room to spare. */
const RING = 1 << 15;
const MASK = RING - 1;
const FULL_SCALE = 32768;

export class EchoPath {
  readonly sampleRate: number;
  readonly delaySamples: number;
  readonly #taps: Float64Array;
  readonly #ring = new Float32Array(RING);
  /** bot samples written (absolute line time of the next one) */
  #written = 0;
  /** line time of the next sample `take` returns */
  #lineTime = 0;
  readonly #noise: (() => number) | null;
  readonly #mulaw: boolean;

  constructor(opts: EchoPathOptions) {
    if (opts.delayMs < 20) throw new RangeError('echo delay must be at least one 20 ms frame');
    this.sampleRate = opts.sampleRate;
    this.delaySamples = Math.round((opts.delayMs * opts.sampleRate) / 1000);
    const rand = mulberry32(opts.seed ?? 1);
    const shape = opts.impulse ?? defaultImpulse(rand, opts.sampleRate);
    // scale so that white bot audio comes back erlDb lower in energy
    const energy = shape.reduce((s, h) => s + h * h, 0) || 1;
    const gain = Math.sqrt(10 ** (-opts.erlDb / 10) / energy);
    this.#taps = Float64Array.from(shape, (h) => h * gain);
    const normal = gaussian(rand);
    const noiseRms = opts.noiseDbfs === undefined ? 0 : FULL_SCALE * 10 ** (opts.noiseDbfs / 20);
    this.#noise = noiseRms > 0 ? () => normal() * noiseRms : null;
    this.#mulaw = opts.mulaw ?? false;
  }

  /** Bot audio as it left for the caller, in order. Silence between prompts need not be pushed. */
  pushBot(pcm: Int16Array): void {
    this.#padTo(this.#lineTime);
    for (let i = 0; i < pcm.length; i++) this.#ring[(this.#written + i) & MASK] = pcm[i]!;
    this.#written += pcm.length;
  }

  /**
   * Bot audio the caller heard from line time `at` (samples; `take` has returned `at` samples by then, or will):
   * placed there, or right after the audio before it. For a peer whose playout runs on its own clock: what it
   * played keeps its time, whichever of the two timers ran first after a stall (the part the line has already sent
   * past is lost, as on a line that had sent it).
   */
  pushBotAt(pcm: Int16Array, at: number): void {
    this.#padTo(at);
    for (let i = 0; i < pcm.length; i++) this.#ring[(this.#written + i) & MASK] = pcm[i]!;
    this.#written += pcm.length;
  }

  /** The next `samples` the line sends to the bot: the echo (plus noise), mixed with the caller's own `caller` audio. */
  take(samples: number, caller?: Int16Array): Int16Array {
    this.#padTo(this.#lineTime);
    const out = new Int16Array(samples);
    const taps = this.#taps;
    for (let i = 0; i < samples; i++) {
      const t = this.#lineTime + i - this.delaySamples;
      let acc = 0;
      for (let k = 0; k < taps.length; k++) {
        const at = t - k;
        if (at >= 0 && at < this.#written && at > this.#written - RING) acc += taps[k]! * this.#ring[at & MASK]!;
      }
      if (this.#noise) acc += this.#noise();
      if (caller && i < caller.length) acc += caller[i]!;
      out[i] = Math.max(-32768, Math.min(32767, Math.round(acc)));
    }
    this.#lineTime += samples;
    return this.#mulaw ? mulawDecode(mulawEncode(out)) : out;
  }

  /** Bot silence until line time `t`, so bot audio pushed later lines up with "now". */
  #padTo(t: number): void {
    while (this.#written < t) this.#ring[this.#written++ & MASK] = 0;
  }
}

/** A hybrid-like response: a main tap then a short, decaying, sign-alternating tail (2 ms), varied by the seed. */
function defaultImpulse(rand: () => number, sampleRate: number): number[] {
  const n = Math.max(4, Math.round(sampleRate / 500));
  const taps: number[] = [];
  for (let k = 0; k < n; k++) taps.push((k === 0 ? 1 : (rand() - 0.5) * 1.2) * Math.exp(-k / (n / 3)));
  return taps;
}
