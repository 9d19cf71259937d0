// AudioWorklet: microphone (AudioContext rate, e.g. 48 kHz) → 16 kHz PCM16 frames of 20 ms.
// Low-pass (windowed sinc at 7 kHz) then linear-interpolating decimation; frames go to the page's main thread.
const OUT_RATE = 16000;
const FRAME_SAMPLES = 320;
const CUTOFF_HZ = 7000;
const TAPS = 63;

function lowpass(rate) {
  const fc = Math.min(CUTOFF_HZ, rate * 0.45) / rate;
  const mid = (TAPS - 1) / 2;
  const h = new Float32Array(TAPS);
  let sum = 0;
  for (let i = 0; i < TAPS; i++) {
    const x = i - mid;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const hamming = 0.54 - 0.46 * Math.cos((2 * Math.PI * i) / (TAPS - 1));
    h[i] = sinc * hamming;
    sum += h[i];
  }
  for (let i = 0; i < TAPS; i++) h[i] /= sum;
  return h;
}

class L16Capture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / OUT_RATE;
    this.taps = lowpass(sampleRate);
    this.ring = new Float32Array(TAPS);
    this.write = 0;
    this.n = 0; // index of the input sample being filtered
    this.nextOut = 0; // input-sample position of the next output sample
    this.prev = 0;
    this.frame = new Int16Array(FRAME_SAMPLES);
    this.fill = 0;
  }

  emit(v) {
    const s = Math.max(-1, Math.min(1, v));
    this.frame[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.fill === FRAME_SAMPLES) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
      this.frame = new Int16Array(FRAME_SAMPLES);
      this.fill = 0;
    }
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const { ring, taps } = this;
    for (let i = 0; i < channel.length; i++) {
      ring[this.write] = channel[i];
      this.write = (this.write + 1) % TAPS;
      let y = 0;
      for (let k = 0, j = this.write; k < TAPS; k++, j = (j + 1) % TAPS) y += taps[k] * ring[j];
      while (this.nextOut <= this.n) {
        const frac = this.nextOut - (this.n - 1);
        this.emit(this.prev + (y - this.prev) * frac);
        this.nextOut += this.ratio;
      }
      this.prev = y;
      this.n++;
      if (this.n > 1e7) {
        this.n -= 1e7;
        this.nextOut -= 1e7;
      }
    }
    return true;
  }
}

registerProcessor('l16-capture', L16Capture);
