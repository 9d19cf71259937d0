import { spawn } from 'node:child_process';
import type { SpeechConfig } from '../config.js';
import type { TtsChunk } from '../types.js';
import { TtsError, type SynthesisRequest, type TtsProvider } from './provider.js';
import { WavStreamReader } from './wav-stream.js';

type EspeakConfig = SpeechConfig['tts']['espeak'];

/**
 * espeak-ng (Debian CLI): `espeak-ng -v VOICE -s WPM --stdout --stdin`, text on stdin (never on the command line,
 * where a leading "-" would be read as an option), 22.05 kHz WAV streamed from stdout as it is produced.
 * The process is killed as soon as the request is aborted or the consumer stops reading.
 */
export class EspeakProvider implements TtsProvider {
  readonly name = 'espeak-ng';
  readonly defaultVoice: string;

  constructor(private readonly cfg: EspeakConfig) {
    this.defaultVoice = cfg.voice;
  }

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    req.signal.throwIfAborted();
    const child = spawn(
      this.cfg.binary,
      ['-v', req.voice ?? this.cfg.voice, '-s', String(this.cfg.wordsPerMinute), '--stdout', '--stdin'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    req.signal.addEventListener('abort', kill, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, this.cfg.timeoutMs);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 2000) stderr += d.toString();
    });
    child.stdin.on('error', () => undefined); // EPIPE when espeak dies early: reported through its exit below
    child.stdin.end(req.text);
    const wav = new WavStreamReader();
    try {
      for await (const data of child.stdout) {
        if (req.signal.aborted) return;
        const pcm = wav.push(data as Buffer);
        if (pcm.length > 0) yield { pcm, sampleRate: wav.sampleRate };
      }
      const result = await exited;
      if (req.signal.aborted) return;
      if (timedOut) throw new TtsError(`${this.cfg.binary} took longer than ${this.cfg.timeoutMs} ms for one sentence`);
      if (result.error)
        throw new TtsError(`cannot run ${this.cfg.binary}: ${result.error.message} (apt-get install espeak-ng)`);
      if (result.code !== 0) {
        throw new TtsError(
          `${this.cfg.binary} exited with ${result.code ?? result.signal}: ${stderr.trim().slice(0, 300)}`,
        );
      }
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener('abort', kill);
      kill();
      await exited;
    }
  }

  async close(): Promise<void> {}
}
