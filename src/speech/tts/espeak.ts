import type { SpeechConfig } from '../config.js';
import type { TtsChunk } from '../types.js';
import { TtsError, type SynthesisRequest, type TtsProvider } from './provider.js';
import { SpawnBroker } from './spawn-broker.js';
import { WavStreamReader } from './wav-stream.js';

type EspeakConfig = SpeechConfig['tts']['espeak'];

/**
 * espeak-ng (Debian CLI): `espeak-ng -v VOICE -s WPM --stdout --stdin`, text on stdin (never on the command line,
 * where a leading "-" would be read as an option), 22.05 kHz WAV streamed from stdout as it is produced.
 * The process (started through a SpawnBroker) is killed as soon as the request is aborted or the consumer stops reading.
 */
export class EspeakProvider implements TtsProvider {
  readonly name = 'espeak-ng';
  readonly defaultVoice: string;

  /** espeak-ng is started from a small helper process: a fork of this one blocks the event loop (see broker) */
  readonly #broker = new SpawnBroker();
  readonly #cfg: EspeakConfig;

  constructor(cfg: EspeakConfig) {
    this.#cfg = cfg;
    this.defaultVoice = cfg.voice;
    this.#broker.start();
  }

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    req.signal.throwIfAborted();
    const child = this.#broker.run(
      this.#cfg.binary,
      ['-v', req.voice ?? this.#cfg.voice, '-s', String(this.#cfg.wordsPerMinute), '--stdout', '--stdin'],
      req.text,
    );
    const kill = () => child.kill();
    req.signal.addEventListener('abort', kill, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, this.#cfg.timeoutMs);
    const wav = new WavStreamReader();
    try {
      for await (const data of child.stdout) {
        if (req.signal.aborted) return;
        const pcm = wav.push(data);
        if (pcm.length > 0) yield { pcm, sampleRate: wav.sampleRate };
      }
      const result = await child.exited;
      if (req.signal.aborted) return;
      if (timedOut)
        throw new TtsError(`${this.#cfg.binary} took longer than ${this.#cfg.timeoutMs} ms for one sentence`);
      if (result.error)
        throw new TtsError(`cannot run ${this.#cfg.binary}: ${result.error.message} (apt-get install espeak-ng)`);
      if (result.code !== 0) {
        throw new TtsError(
          `${this.#cfg.binary} exited with ${result.code ?? result.signal}: ${child.stderr().trim().slice(0, 300)}`,
        );
      }
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener('abort', kill);
      kill();
      await child.exited;
    }
  }

  async close(): Promise<void> {
    this.#broker.close();
  }
}
