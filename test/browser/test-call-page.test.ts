import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_PATH } from '../helpers/chromium.js';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, ScriptedAsr, type TestDeps } from '../../src/dialog/scripted.js';
import { createLogger } from '../../src/log/logger.js';
import { readWavFile, writeWav } from '../../src/media/wav.js';
import { createTtsAsync, createVadFactory } from '../../src/speech/index.js';
import { createWebServer } from '../../src/web/server.js';
import { registerTestCall, type BrowserBackend } from '../../src/telephony/browser/backend.js';
import { loadAssets } from '../../src/telephony/browser/assets.js';
import { serverUrl, waitFor } from './helpers.js';
import { VAD_MODEL, clip } from '../helpers/fixtures.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(REPO, 'test-artifacts');
const CLIP = clip('librispeech-test-clean-1089-134691-0000.wav'); // "he could wait no longer", 2.1 s
const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

/** The fake microphone: 3 s of silence (the greeting plays), the clip, then silence. Played once (%noloop). */
async function microphoneWav(dir: string): Promise<string> {
  const clip = await readWavFile(CLIP);
  const rate = clip.sampleRate;
  const pcm = new Int16Array(rate * 3 + clip.samples.length + rate * 6);
  pcm.set(clip.samples, rate * 3);
  const path = join(dir, 'caller.wav');
  writeFileSync(path, writeWav(pcm, rate));
  return path;
}

interface PageState {
  connection: string;
  receivedSamples: number;
  sentFrames: number;
  transcript: Array<{ speaker: string; text: string }>;
  intents: Array<{ intent: string | null }>;
  turns: Array<{ totalMs: number; stages: Record<string, number> }>;
  error: { kind: string; message: string } | null;
}
const pageState = (page: Page) => page.evaluate(() => (globalThis as unknown as { testCall: PageState }).testCall);

describe('browser test call in headless Chromium (real VAD and espeak-ng; scripted ASR: the stub whisper model hears no words)', () => {
  let dir: string;
  let web: FastifyInstance;
  let handle: BrowserBackend;
  let deps: TestDeps;
  let asr: ScriptedAsr;
  let browser: BrowserContext;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'voicebot-browser-'));
    const micFile = await microphoneWav(dir);
    asr = new ScriptedAsr([{ text: 'I want to check my order status', confidence: 0.9 }]);
    deps = createTestDeps({
      config: {
        speech: { vad: { modelPath: VAD_MODEL } },
        dialog: {
          greeting: 'Hello, this is the test bot.',
          intents: [{ name: 'order_status', keywords: ['order'], responses: ['Your order is on its way.'] }],
        },
      },
      asr,
    });
    deps.vad = createVadFactory(deps.config.speech.vad, logger, deps.metrics);
    deps.tts = await createTtsAsync(deps.config.speech.tts, logger, deps.metrics); // espeak-ng
    web = await createWebServer({ logger, metrics: deps.metrics });
    handle = await registerTestCall(web, { logger, metrics: deps.metrics, events: deps.events });
    await web.listen({ host: '127.0.0.1', port: 0 });
    await handle.start(async (leg) => {
      await runCall(leg, deps);
    });
    browser = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${micFile}%noloop`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await deps?.tts.close();
    await web?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plays the greeting, answers a spoken turn on the page, and hangs up cleanly', { timeout: 60_000 }, async () => {
    const listenersBefore = deps.events.listenerCount;
    const page = await browser.newPage();
    await page.goto(serverUrl(web));
    await page.click('#call');

    // the greeting reaches the page as audio and plays
    await page.waitForFunction(
      () => (globalThis as unknown as { testCall: PageState }).testCall.receivedSamples > 8000,
      null,
      {
        timeout: 15_000,
      },
    );
    await page.waitForSelector('#playback[data-playing="true"], #transcript li[data-speaker="bot"]', { timeout: 5000 });
    expect(await page.textContent('#transcript li[data-speaker="bot"]')).toContain('Hello, this is the test bot.');

    // the clip, downsampled in the page, ends a turn at the VAD; the reply shows on the page
    await page.waitForSelector('#transcript li[data-speaker="bot"]:nth-of-type(3)', { timeout: 20_000 });
    const state = await pageState(page);
    expect(state.transcript.map((e) => [e.speaker, e.text])).toEqual([
      ['bot', 'Hello, this is the test bot.'],
      ['caller', 'I want to check my order status'],
      ['bot', 'Your order is on its way.'],
    ]);
    expect(state.intents.map((i) => i.intent)).toEqual(['order_status']);
    expect(await page.textContent('#intent')).toContain('order_status');
    // 16 kHz really: the utterance the VAD cut is about as long as the 2.1 s clip (not 3x, as 48 kHz samples would be)
    expect(asr.heard[0]!.audioMs).toBeGreaterThan(1500);
    expect(asr.heard[0]!.audioMs).toBeLessThan(4000);
    expect(state.sentFrames).toBeGreaterThan(150); // > 3 s of 20 ms frames

    // per-turn latency: what the server measured, row by row on the page
    await page.waitForSelector('#turn-rows tr', { timeout: 5000 });
    const measured = deps.published.filter((e) => e.type === 'turn-latency');
    expect(measured).toHaveLength(1);
    const turn = measured[0]!;
    if (turn.type !== 'turn-latency') throw new Error('unreachable');
    expect((await pageState(page)).turns).toEqual([{ totalMs: turn.totalMs, stages: turn.stages }]);
    const { endpointingMs, asrMs, nluMs, ttsMs } = turn.stages;
    expect(turn.totalMs).toBe(endpointingMs + asrMs + nluMs + ttsMs);
    expect(endpointingMs).toBeGreaterThanOrEqual(deps.config.speech.vad.endOfTurnSilenceMs - 100);
    expect(ttsMs).toBeGreaterThan(0);
    const cells = await page.$$eval('#turn-rows tr td', (tds) => tds.map((td) => td.textContent));
    expect(cells).toEqual(['1', ...[turn.totalMs, endpointingMs, asrMs, nluMs, ttsMs].map((v) => `${v} ms`)]);
    // the caller's line carries the recogniser's confidence; the bot's has none
    expect(await page.textContent('#transcript li[data-speaker="caller"] .confidence')).toBe('confidence 0.90');
    expect(await page.$('#transcript li[data-speaker="bot"] .confidence')).toBeNull();
    expect(state.error).toBeNull();

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-test-call.png'), fullPage: true });

    await page.click('#hangup');
    await waitFor(() => handle.activeCalls === 0, 10_000, 'the call to end on the server');
    await page.waitForSelector('#connection[data-value="ended"]', { timeout: 5000 });
    expect(deps.events.listenerCount).toBe(listenersBefore);
    const ended = deps.published.find((e) => e.type === 'call-ended');
    expect(ended?.type === 'call-ended' && ended.record.intent).toBe('order_status');
    await page.close();
  });

  it('says the server is unreachable when it has gone away before the call', { timeout: 30_000 }, async () => {
    // a second server that serves the page, then goes away before the call
    const gone = await createWebServer({ logger, metrics: deps.metrics });
    await registerTestCall(gone, { logger, metrics: deps.metrics, events: deps.events });
    await gone.listen({ host: '127.0.0.1', port: 0 });
    const page = await separateBrowserPage({ grantMicrophone: true });
    await page.goto(serverUrl(gone));
    await gone.close();
    await page.click('#call');
    await page.waitForSelector('#error[data-kind="server-unreachable"]', { timeout: 10_000 });
    expect(await page.textContent('#error')).toMatch(
      /Cannot reach the voicebot server at http:\/\/127\.0\.0\.1:\d+\/test-call\/capture-worklet\.js\. Is `voicebot start` running/,
    );
    expect(await page.isVisible('#error')).toBe(true);
    await page.waitForSelector('#connection[data-value="ended"]', { timeout: 5000 });
    expect(await page.isEnabled('#call')).toBe(true);
  });

  it(
    'says the microphone is blocked, and how to allow it, when the browser denies it',
    { timeout: 30_000 },
    async () => {
      const page = await separateBrowserPage({ grantMicrophone: false });
      await page.goto(serverUrl(web));
      await page.click('#call');
      await page.waitForSelector('#error[data-kind="microphone-blocked"]', { timeout: 10_000 });
      expect(await page.textContent('#error')).toContain('The microphone is blocked for this page. Allow it');
      await page.waitForSelector('#connection[data-value="ended"]', { timeout: 5000 });
      expect(handle.activeCalls).toBe(0); // no call was placed without audio
    },
  );

  it(
    'says the server is unreachable when the WebSocket upgrade is refused (e.g. a proxy without WebSockets)',
    { timeout: 30_000 },
    async () => {
      const assets = loadAssets();
      const plain = createHttpServer((req, res) => {
        const asset = assets.get(req.url === '/' ? 'index.html' : (req.url ?? '').replace('/test-call/', ''));
        res.writeHead(asset ? 200 : 404, { 'content-type': asset?.contentType ?? 'text/plain' });
        res.end(asset?.body ?? 'not found');
      });
      plain.on('upgrade', (_req, socket: Socket) => socket.destroy());
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
      onTestFinished(() => new Promise<void>((r) => plain.close(() => r())));
      const page = await separateBrowserPage({ grantMicrophone: true });
      await page.goto(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/`);
      await page.click('#call');
      await page.waitForSelector('#error[data-kind="server-unreachable"]', { timeout: 10_000 });
      expect(await page.textContent('#error')).toMatch(
        /Cannot reach the voicebot server at ws:\/\/127\.0\.0\.1:\d+\/test-call\/ws\. Is `voicebot start` running/,
      );
      await page.waitForSelector('#connection[data-value="ended"]', { timeout: 5000 });
    },
  );
});

/**
 * A page in a browser of its own with a synthetic microphone (the shared browser's file-backed microphone plays once),
 * closed when the test ends. Without --use-fake-ui-for-media-stream headless Chromium answers the permission prompt
 * with a denial, so `grantMicrophone: false` is a blocked microphone.
 */
async function separateBrowserPage({ grantMicrophone }: { grantMicrophone: boolean }): Promise<Page> {
  const args = ['--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream'];
  if (grantMicrophone) args.push('--use-fake-ui-for-media-stream');
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args });
  onTestFinished(() => browser.close());
  return (await browser.newContext()).newPage();
}
