import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { readWav } from '../../src/media/wav.js';
import { AsrHttpError, createAsr } from '../../src/speech/asr/index.js';
import { asrConfig } from '../../src/speech/config.js';
import type { AsrResult } from '../../src/speech/types.js';
import { whiteNoise } from './helpers.js';

const logger = pino({ level: 'silent' });

interface Seen {
  url: string;
  auth: string | undefined;
  fields: Record<string, string>;
  wav: ReturnType<typeof readWav> | null;
}

describe('OpenAI-compatible transcription server', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = null;
  });

  /** A local peer that parses the multipart request the way a real server does (via the fetch Request parser). */
  async function serve(
    answer: (seen: Seen, n: number, res: ServerResponse) => void,
  ): Promise<{ base: string; seen: Seen[] }> {
    const seen: Seen[] = [];
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        void (async () => {
          const form = await new Request('http://peer', {
            method: 'POST',
            headers: { 'content-type': req.headers['content-type'] ?? '' },
            body: Buffer.concat(parts),
          }).formData();
          const fields: Record<string, string> = {};
          let wav: Seen['wav'] = null;
          for (const [k, v] of form.entries()) {
            if (typeof v === 'string') fields[k] = v;
            else wav = readWav(Buffer.from(await v.arrayBuffer()));
          }
          const s = { url: req.url ?? '', auth: req.headers.authorization, fields, wav };
          seen.push(s);
          answer(s, seen.length, res);
        })();
      });
    });
    await new Promise<void>((r) => (server as Server).listen(0, '127.0.0.1', () => r()));
    return { base: `http://127.0.0.1:${((server as Server).address() as AddressInfo).port}/v1`, seen };
  }

  const audio = whiteNoise(1500, 2000);
  async function* stream(): AsyncGenerator<Int16Array> {
    for (let i = 0; i < audio.length; i += 3200) yield audio.subarray(i, i + 3200);
  }
  async function collect(it: AsyncIterable<AsrResult>): Promise<AsrResult[]> {
    const out: AsrResult[] = [];
    for await (const r of it) out.push(r);
    return out;
  }
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  it('posts the utterance as a multipart WAV and returns one final result', async () => {
    const { base, seen } = await serve((_s, _n, res) =>
      json(res, 200, {
        text: ' I want to open a ticket. ',
        language: 'english',
        duration: 1.5,
        segments: [{ avg_logprob: -0.1 }, { avg_logprob: -0.3 }],
      }),
    );
    const cfg = asrConfig.parse({
      provider: 'openai',
      openai: { baseUrl: base, apiKey: 'sk-secret', model: 'whisper-1', prompt: 'ticket, invoice' },
    });
    const asr = await createAsr(cfg, logger, new Registry());
    const results = await collect(asr.transcribe(stream()));
    expect(results).toHaveLength(1); // no partials from a server
    const r = results[0] as AsrResult;
    expect(r).toMatchObject({ text: 'I want to open a ticket.', language: 'en', final: true });
    expect(r.confidence).toBeCloseTo(Math.exp(-0.2), 5);
    expect(r.timings.audioMs).toBe(1500);
    const req = seen[0] as Seen;
    expect(req.url).toBe('/v1/audio/transcriptions');
    expect(req.auth).toBe('Bearer sk-secret');
    expect(req.fields).toMatchObject({
      model: 'whisper-1',
      response_format: 'verbose_json',
      language: 'en',
      prompt: 'ticket, invoice',
    });
    expect(req.wav?.sampleRate).toBe(16_000);
    expect(req.wav?.samples).toEqual(audio);
    await asr.close();
  });

  it('retries a 5xx with backoff, then succeeds', async () => {
    const { base, seen } = await serve((_s, n, res) =>
      n < 3 ? json(res, 503, 'warming up') : json(res, 200, { text: 'yes', segments: [] }),
    );
    const asr = await createAsr(
      asrConfig.parse({ provider: 'openai', openai: { baseUrl: base, retries: 2 } }),
      logger,
      new Registry(),
    );
    const [r] = await collect(asr.transcribe(stream()));
    expect(r?.text).toBe('yes');
    expect(r?.confidence).toBe(1); // the server gave no log-probabilities
    expect(seen).toHaveLength(3);
  });

  it('does not retry a 4xx and says what the server answered', async () => {
    const { base, seen } = await serve((_s, _n, res) => json(res, 401, { error: 'invalid api key' }));
    const asr = await createAsr(
      asrConfig.parse({ provider: 'openai', openai: { baseUrl: base } }),
      logger,
      new Registry(),
    );
    const err = await collect(asr.transcribe(stream())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AsrHttpError);
    expect(String(err)).toMatch(/answered 401 \(check speech\.asr\.openai\.apiKey\).*invalid api key/);
    expect(seen).toHaveLength(1);
  });

  it('times out a server that never answers, with a clear error', async () => {
    const { base, seen } = await serve(() => undefined);
    const cfg = asrConfig.parse({ provider: 'openai', openai: { baseUrl: base, timeoutMs: 300, retries: 1 } });
    const asr = await createAsr(cfg, logger, new Registry());
    await expect(collect(asr.transcribe(stream()))).rejects.toThrow(/did not answer within 300 ms/);
    expect(seen).toHaveLength(2);
  });

  it('reports an unreachable server', async () => {
    const { base } = await serve(() => undefined);
    server?.closeAllConnections();
    await new Promise<void>((r) => (server as Server).close(() => r()));
    server = null;
    const cfg = asrConfig.parse({ provider: 'openai', openai: { baseUrl: base, retries: 0 } });
    const asr = await createAsr(cfg, logger, new Registry());
    await expect(collect(asr.transcribe(stream()))).rejects.toThrow(/unreachable/);
  });
});
