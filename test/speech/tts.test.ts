import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { MULAW_SILENCE, mulawDecode } from '../../src/media/g711.js';
import { writeWav } from '../../src/media/wav.js';
import { energyDb } from '../../src/speech/audio.js';
import { ttsConfig } from '../../src/speech/config.js';
import {
  SentenceTts,
  TtsError,
  TtsSetupError,
  createTts,
  createTtsAsync,
  ttsToFrames,
  ttsToMulawFrames,
} from '../../src/speech/tts/index.js';
import type { SynthesisRequest, TtsProvider } from '../../src/speech/tts/provider.js';
import { splitSentences } from '../../src/speech/tts/sentences.js';
import { WavStreamReader } from '../../src/speech/tts/wav-stream.js';
import type { TtsChunk } from '../../src/speech/types.js';
import { waitFor, whiteNoise } from './helpers.js';

const logger = pino({ level: 'silent' });
const TEXT = 'Hello, you are speaking with the automated assistant of the service desk.';

/** espeak-ng processes under this one (they run under the TTS spawn broker, a child of this process). */
function espeakChildren(): number {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/) as [string, string, string]);
  const mine = new Set([String(process.pid)]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of rows) if (mine.has(ppid) && !mine.has(pid)) grew = Boolean(mine.add(pid));
  }
  return rows.filter(([pid, , comm]) => mine.has(pid) && comm.startsWith('espeak')).length;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('espeak-ng provider', () => {
  it('speech comes out as 8 kHz μ-law frames of 20 ms', async () => {
    const tts = createTts(ttsConfig.parse({}), logger, new Registry());
    const frames = await collect(ttsToMulawFrames(tts, TEXT));
    expect(frames.length).toBeGreaterThan(50); // over a second of speech
    for (const f of frames) expect(f.length).toBe(160);
    const pcm = new Int16Array(frames.length * 160);
    frames.forEach((f, i) => pcm.set(mulawDecode(f), i * 160));
    const loud = frames.filter((f, i) => energyDb(pcm, i * 160, 160) > 50).length;
    expect(loud / frames.length).toBeGreaterThan(0.3);
    expect(frames.some((f) => f.some((b) => b !== MULAW_SILENCE))).toBe(true);
    // as long as espeak's own 22.05 kHz output, within a frame or two of rounding
    const raw = await collect(tts.synthesize(TEXT));
    const rawSamples = raw.reduce((n, c) => n + c.pcm.length, 0);
    expect(raw[0]?.sampleRate).toBe(22_050);
    expect(Math.abs(frames.length - (rawSamples * 8000) / 22_050 / 160)).toBeLessThanOrEqual(2);
    await tts.close();
  });

  it('cancelling mid-sentence stops within one frame and kills espeak-ng', async () => {
    const tts = createTts(ttsConfig.parse({ cacheEntries: 0 }), logger, new Registry());
    const abort = new AbortController();
    let afterAbort = 0;
    let before = 0;
    for await (const frame of ttsToFrames(tts, `${TEXT} ${TEXT} ${TEXT}`, 8000, { signal: abort.signal })) {
      expect(frame.length).toBe(160);
      if (abort.signal.aborted) afterAbort++;
      else if (++before === 25) abort.abort();
    }
    expect(before).toBe(25);
    expect(afterAbort).toBeLessThanOrEqual(1);
    await waitFor(() => espeakChildren() === 0, 5000, 'espeak-ng to exit');
    await tts.close();
  });

  it('a fixed prompt is synthesized once and then served from the cache', async () => {
    const metrics = new Registry();
    const tts = createTts(ttsConfig.parse({}), logger, metrics);
    const first = await collect(tts.synthesize('Thank you for calling.'));
    const second = await collect(tts.synthesize('Thank you for calling.'));
    const join = (cs: TtsChunk[]) =>
      Buffer.concat(cs.map((c) => Buffer.from(c.pcm.buffer, c.pcm.byteOffset, c.pcm.byteLength)));
    expect(join(second).equals(join(first))).toBe(true);
    const text = await metrics.metrics();
    expect(text).toMatch(/voicebot_tts_cache_total\{result="hit"\} 1/);
    expect(text).toMatch(/voicebot_tts_cache_total\{result="miss"\} 1/);
    await tts.close();
  });

  it('reports a missing binary as a TtsError, not a crash', async () => {
    const tts = createTts(
      ttsConfig.parse({ espeak: { engine: 'binary', binary: '/nonexistent/espeak-ng' } }),
      logger,
      new Registry(),
    );
    await expect(collect(tts.synthesize('Hello.'))).rejects.toThrow(TtsError);
  });
});

/** Records when each sentence starts and is finished, to see the pipelining. */
class FakeProvider implements TtsProvider {
  readonly name = 'fake';
  readonly defaultVoice = 'v';
  calls: string[] = [];
  log: string[] = [];

  async *synthesize(req: SynthesisRequest): AsyncGenerator<TtsChunk> {
    this.calls.push(req.text);
    this.log.push(`start:${req.text}`);
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((r) => setImmediate(r));
      if (req.signal.aborted) return;
      yield { pcm: new Int16Array(1600).fill(1000), sampleRate: 16_000 };
    }
    this.log.push(`end:${req.text}`);
  }

  async close(): Promise<void> {}
}

describe('sentence pipeline and cache', () => {
  it('synthesizes the next sentence while the first is being consumed', async () => {
    const fake = new FakeProvider();
    const tts = new SentenceTts(fake, { cacheEntries: 16, splitSentences: true }, logger, new Registry());
    const it = tts.synthesize('First one. Second one! Third one?')[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    await waitFor(() => fake.log.includes('start:Second one!'), 2000, 'second sentence to start');
    expect(fake.log).not.toContain('start:Third one?');
    while (!(await it.next()).done);
    expect(fake.calls).toEqual(['First one.', 'Second one!', 'Third one?']);
    await collect(tts.synthesize('Second one! Third one?'));
    expect(fake.calls).toHaveLength(3); // both from the cache
  });

  it('a cancelled sentence is not cached', async () => {
    const fake = new FakeProvider();
    const tts = new SentenceTts(fake, { cacheEntries: 16, splitSentences: true }, logger, new Registry());
    const abort = new AbortController();
    for await (const _ of tts.synthesize('Only one.', { signal: abort.signal })) abort.abort();
    await collect(tts.synthesize('Only one.'));
    expect(fake.calls).toEqual(['Only one.', 'Only one.']);
  });

  it('splits sentences but not abbreviations or numbers', () => {
    expect(splitSentences('Hello Dr. Smith. Your balance is 3.50 dollars! Anything else?\nBye')).toEqual([
      'Hello Dr. Smith.',
      'Your balance is 3.50 dollars!',
      'Anything else?',
      'Bye',
    ]);
    expect(splitSentences('  ...  ')).toEqual([]);
    const long = `${'word, '.repeat(60)}end.`;
    expect(splitSentences(long).length).toBeGreaterThan(1);
  });

  it('reads a WAV stream fed one byte at a time', () => {
    const samples = whiteNoise(50, 10_000);
    const bytes = writeWav(samples, 22_050);
    const reader = new WavStreamReader();
    const parts: number[] = [];
    for (const b of bytes) parts.push(...reader.push(Uint8Array.of(b)));
    expect(reader.sampleRate).toBe(22_050);
    expect(Int16Array.from(parts)).toEqual(samples);
    expect(() => new WavStreamReader().push(Buffer.from('not a wave file at all'))).toThrow(/RIFF/);
  });
});

describe('HTTP TTS providers against local peers', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = null;
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => handler(req, res, body));
    });
    await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${((server as Server).address() as AddressInfo).port}`;
  }

  const speech = whiteNoise(400, 8000, 24_000);

  it('coqui: GET /api/tts?text=... streams the WAV back', async () => {
    let seen: URL | null = null;
    const base = await serve((req, res) => {
      seen = new URL(req.url ?? '/', 'http://x');
      const wav = writeWav(speech, 24_000);
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.write(wav.subarray(0, 1001)); // split mid-header and mid-sample
      res.end(wav.subarray(1001));
    });
    const tts = createTts(
      ttsConfig.parse({ provider: 'coqui', coqui: { baseUrl: base, speakerId: 'p225' }, splitSentences: false }),
      logger,
      new Registry(),
    );
    const chunks = await collect(tts.synthesize('Good morning.'));
    expect(seen).not.toBeNull();
    expect((seen as unknown as URL).pathname).toBe('/api/tts');
    expect((seen as unknown as URL).searchParams.get('text')).toBe('Good morning.');
    expect((seen as unknown as URL).searchParams.get('speaker_id')).toBe('p225');
    const pcm = Int16Array.from(chunks.flatMap((c) => [...c.pcm]));
    expect(pcm).toEqual(speech);
    expect(chunks.every((c) => c.sampleRate === 24_000)).toBe(true);
  });

  it('openai: POST /audio/speech with JSON, wav and raw pcm answers', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const auths: Array<string | undefined> = [];
    const base = await serve((req, res, body) => {
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/v1/audio/speech');
      const json = JSON.parse(body) as Record<string, unknown>;
      bodies.push(json);
      auths.push(req.headers.authorization);
      res.writeHead(200);
      if (json.response_format === 'pcm') res.end(Buffer.from(speech.buffer, speech.byteOffset, speech.byteLength));
      else res.end(writeWav(speech, 24_000));
    });
    for (const responseFormat of ['wav', 'pcm'] as const) {
      const cfg = ttsConfig.parse({
        provider: 'openai',
        openai: { baseUrl: `${base}/v1`, apiKey: 'sk-test', voice: 'nova', responseFormat },
      });
      const chunks = await collect(createTts(cfg, logger, new Registry()).synthesize('Your ticket is open.'));
      expect(Int16Array.from(chunks.flatMap((c) => [...c.pcm]))).toEqual(speech);
      expect(chunks[0]?.sampleRate).toBe(24_000);
    }
    expect(bodies[0]).toMatchObject({
      model: 'tts-1',
      input: 'Your ticket is open.',
      voice: 'nova',
      response_format: 'wav',
    });
    expect(bodies[1]).toMatchObject({ response_format: 'pcm' });
    expect(auths).toEqual(['Bearer sk-test', 'Bearer sk-test']);
  });

  it('openai: an HTTP error becomes a TtsError with the status', async () => {
    const base = await serve((_req, res) => {
      res.writeHead(401);
      res.end('bad key');
    });
    const tts = createTts(ttsConfig.parse({ provider: 'openai', openai: { baseUrl: base } }), logger, new Registry());
    await expect(collect(tts.synthesize('Hello.'))).rejects.toThrow(/answered 401 \(check the apiKey\): bad key/);
  });

  it('abort while the server is still streaming closes the connection', async () => {
    let closed = false;
    const base = await serve((_req, res) => {
      res.writeHead(200);
      res.write(writeWav(speech, 24_000).subarray(0, 4000)); // then never finishes
      res.on('close', () => (closed = true));
    });
    const tts = createTts(ttsConfig.parse({ provider: 'coqui', coqui: { baseUrl: base } }), logger, new Registry());
    const abort = new AbortController();
    let after = 0;
    for await (const _ of tts.synthesize('Hello there.', { signal: abort.signal })) {
      if (abort.signal.aborted) after++;
      abort.abort();
    }
    expect(after).toBe(0);
    await waitFor(() => closed, 5000, 'the server to see the connection close');
  });
});

describe('sherpa-onnx voices', () => {
  it('names every missing file and setting', async () => {
    const cfg = ttsConfig.parse({
      provider: 'sherpa-onnx',
      sherpaOnnx: { kind: 'kokoro', modelPath: '/nonexistent/kokoro.onnx' },
    });
    expect(() => createTts(cfg, logger, new Registry())).toThrow(TtsSetupError);
    const err = await createTtsAsync(cfg, logger, new Registry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TtsSetupError);
    expect(String(err)).toContain('speech.tts.sherpaOnnx.modelPath: /nonexistent/kokoro.onnx not found');
    expect(String(err)).toContain('speech.tts.sherpaOnnx.tokensPath is not set');
    expect(String(err)).toContain('speech.tts.sherpaOnnx.voicesPath is not set');
  });
});
