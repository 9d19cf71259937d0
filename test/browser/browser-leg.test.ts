import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { CallEventBus } from '../../src/core/call-events.js';
import { createMetrics } from '../../src/core/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { createWebServer } from '../../src/web/server.js';
import { registerTestCall, TEST_CALL_WS_PATH, type BrowserBackend } from '../../src/telephony/browser/backend.js';
import { serverUrl, waitFor } from './helpers.js';

const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

interface Harness {
  web: FastifyInstance;
  metrics: Registry;
  events: CallEventBus;
  handle: BrowserBackend;
  legs: CallLeg[];
  /** frames each leg delivered to the core */
  frames: Map<string, Int16Array[]>;
  ended: Map<string, string>;
}

/** A stand-in call core: records caller frames, lets the test drive the leg, ends on hangup. */
function fakeCore(h: Pick<Harness, 'legs' | 'frames' | 'ended'>) {
  return (leg: CallLeg): Promise<void> =>
    new Promise((resolve) => {
      h.legs.push(leg);
      h.frames.set(leg.id, []);
      leg.on('audio', (f) => h.frames.get(leg.id)!.push(f));
      leg.on('hangup', (reason) => {
        h.ended.set(leg.id, reason);
        resolve();
      });
    });
}

async function open(
  url: string,
): Promise<{ ws: WebSocket; messages: Array<Record<string, unknown>>; audio: Buffer[] }> {
  const ws = new WebSocket(url);
  const messages: Array<Record<string, unknown>> = [];
  const audio: Buffer[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) audio.push(Buffer.from(data));
    else messages.push(JSON.parse(data.toString()) as Record<string, unknown>);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await waitFor(() => messages.some((m) => m.type === 'ready'), 2000, 'ready message');
  return { ws, messages, audio };
}

const dropped = async (metrics: Registry, reason: string): Promise<number> => {
  const m = await metrics.getSingleMetric('voicebot_browser_frames_dropped_total')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
};

describe('browser test call plugin and leg', () => {
  let h: Harness;

  beforeEach(async () => {
    const metrics = createMetrics(false);
    const web = await createWebServer({ logger, metrics });
    const events = new CallEventBus();
    const partial = {
      legs: [] as CallLeg[],
      frames: new Map<string, Int16Array[]>(),
      ended: new Map<string, string>(),
    };
    const handle = await registerTestCall(web, { logger, metrics, events, maxConcurrentCalls: 2 });
    await web.listen({ host: '127.0.0.1', port: 0 });
    await handle.start(fakeCore(partial));
    h = { web, metrics, events, handle, ...partial };
  });

  afterEach(async () => {
    await h.web.close();
  });

  it('serves the page with a call button and its scripts', async () => {
    const base = serverUrl(h.web);
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('Call the bot');
    expect(html).toContain('Hang up');
    const worklet = await fetch(`${base}/test-call/capture-worklet.js`);
    expect(worklet.status).toBe(200);
    expect(await worklet.text()).toContain("registerProcessor('l16-capture'");
    expect((await fetch(`${base}/test-call/../../package.json`)).status).toBe(404);
    expect((await fetch(`${base}/test-call/nope.js`)).status).toBe(404);
  });

  it('turns binary L16 frames into 20 ms caller frames, little-endian', async () => {
    const { ws } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    expect(leg.inputSampleRate).toBe(16000);
    // 30 ms then 10 ms: the leg re-frames to 20 ms
    const samples = Int16Array.from({ length: 640 }, (_, i) => (i * 97 - 20000) % 32000);
    const bytes = Buffer.alloc(samples.length * 2);
    samples.forEach((s, i) => bytes.writeInt16LE(s, i * 2));
    ws.send(bytes.subarray(0, 960));
    ws.send(bytes.subarray(960));
    await waitFor(() => h.frames.get(leg.id)!.length === 2, 2000, 'two caller frames');
    const got = h.frames.get(leg.id)!;
    expect(got.map((f) => f.length)).toEqual([320, 320]);
    expect([...got[0]!, ...got[1]!]).toEqual([...samples]);
    ws.close();
  });

  it('counts and drops malformed frames, and the call goes on', async () => {
    const { ws } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    ws.send(Buffer.alloc(641)); // odd length
    ws.send(Buffer.alloc(0)); // empty
    ws.send(Buffer.alloc(40_000)); // over 1 s of audio
    ws.send('{not json');
    ws.send(JSON.stringify({ type: 'dance' }));
    ws.send(JSON.stringify({ type: 'dtmf', digit: 'xx' }));
    ws.send(Buffer.alloc(640)); // one good 20 ms frame after the junk
    await waitFor(() => h.frames.get(leg.id)!.length === 1, 2000, 'the good frame');
    expect(await dropped(h.metrics, 'odd-length')).toBe(1);
    expect(await dropped(h.metrics, 'empty')).toBe(1);
    expect(await dropped(h.metrics, 'too-large')).toBe(1);
    expect(await dropped(h.metrics, 'bad-json')).toBe(1);
    expect(await dropped(h.metrics, 'bad-message')).toBe(2);
    expect(h.ended.has(leg.id)).toBe(false);
    ws.close();
  });

  it('paces bot audio out as 20 ms binary frames, and clears it on barge-in', async () => {
    const { ws, audio, messages } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    const tone = Int16Array.from({ length: 1600 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
    leg.sendAudio(tone);
    expect(audio).toHaveLength(0); // queued for the pacer, not sent at once
    await leg.waitForPlayout(AbortSignal.timeout(3000));
    await waitFor(() => audio.length === 5, 2000, 'five frames');
    expect(audio.every((b) => b.length === 640)).toBe(true);
    expect(audio[0]!.readInt16LE(2)).toBe(tone[1]);

    leg.sendAudio(new Int16Array(16000));
    const unplayed = leg.clearAudio();
    expect(unplayed).toBeGreaterThan(0);
    await waitFor(() => messages.some((m) => m.type === 'clear'), 2000, 'clear message');
    await leg.waitForPlayout(AbortSignal.timeout(500));
    ws.close();
  });

  it('forwards only this call’s events to its page', async () => {
    const { ws, messages } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    h.events.publish({ type: 'state', callId: 'someone-else', from: null, to: 'greeting', cause: 'start' });
    h.events.publish({ type: 'state', callId: leg.id, from: null, to: 'greeting', cause: 'start' });
    h.events.publish({
      type: 'transcript',
      callId: leg.id,
      entry: { speaker: 'bot', text: 'Hello', atMs: 0 },
    });
    await waitFor(() => messages.filter((m) => m.type === 'event').length === 2, 2000, 'two events');
    const forwarded = messages
      .filter((m) => m.type === 'event')
      .map((m) => m.event as { callId: string; type: string });
    expect(forwarded.every((e) => e.callId === leg.id)).toBe(true);
    expect(forwarded.map((e) => e.type)).toEqual(['state', 'transcript']);
    ws.close();
  });

  it('closing the socket is a hangup: the call ends and its resources are released', async () => {
    const listenersBefore = h.events.listenerCount;
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const timersBefore = timeouts();
    const { ws } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    expect(h.handle.activeCalls).toBe(1);
    expect(h.events.listenerCount).toBe(listenersBefore + 1);
    leg.sendAudio(new Int16Array(16000 * 5)); // 5 s queued: its pacer timer is running
    ws.terminate();
    await waitFor(() => h.handle.activeCalls === 0, 3000, 'call to end');
    expect(h.ended.get(leg.id)).toBe('caller-hangup');
    expect(h.events.listenerCount).toBe(listenersBefore);
    expect((leg as unknown as { ended: boolean }).ended).toBe(true);
    // nothing left waiting on the dead call
    await leg.waitForPlayout(AbortSignal.timeout(100));
    expect(timeouts()).toBeLessThanOrEqual(timersBefore); // the leg's pacer timer is gone
  });

  it('a keypad press from the page reaches the core as DTMF', async () => {
    const { ws } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    const digits: string[] = [];
    leg.on('dtmf', (d) => digits.push(d));
    ws.send(JSON.stringify({ type: 'dtmf', digit: '0' }));
    ws.send(JSON.stringify({ type: 'dtmf', digit: '#' }));
    await waitFor(() => digits.length === 2, 2000, 'two digits');
    expect(digits).toEqual(['0', '#']);
    ws.close();
  });

  it('a hangup message from the page ends the call', async () => {
    const { ws } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send(JSON.stringify({ type: 'hangup' }));
    expect(await closed).toBe(1000);
    await waitFor(() => h.handle.activeCalls === 0, 3000, 'call to end');
    expect(h.ended.get(leg.id)).toBe('caller-hangup');
  });

  it('refuses calls beyond the limit with 1013', async () => {
    const a = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const b = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const c = new WebSocket(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const code = await new Promise<number>((resolve) => c.once('close', (n) => resolve(n)));
    expect(code).toBe(1013);
    expect(h.handle.activeCalls).toBe(2);
    a.ws.close();
    b.ws.close();
  });

  it('server shutdown ends running calls: the core hears a hangup', async () => {
    await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const leg = h.legs[0]!;
    await h.web.close();
    expect(h.ended.get(leg.id)).toBe('server-shutdown');
    expect(h.handle.activeCalls).toBe(0);
  });

  it('stop() ends running calls and tells the page why', async () => {
    const { ws, messages } = await open(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const leg = h.legs[0]!;
    await h.handle.stop();
    expect(h.ended.get(leg.id)).toBe('backend-stopped');
    expect(await closed).toBe(1000);
    expect(messages.at(-1)).toEqual({ type: 'ended', reason: 'backend-stopped' });
  });

  it('refuses sockets opened by another web site (Origin check)', async () => {
    const ws = new WebSocket(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH, { origin: 'https://evil.example' });
    const code = await new Promise<number>((resolve) => ws.once('close', (n) => resolve(n)));
    expect(code).toBe(1008);
    expect(h.legs).toHaveLength(0);
    const same = new WebSocket(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH, { origin: serverUrl(h.web) });
    await new Promise<void>((resolve) => same.once('open', () => resolve()));
    await waitFor(() => h.legs.length === 1, 2000, 'same-origin call');
    same.close();
  });

  it('refuses calls until started and after stop()', async () => {
    await h.handle.stop();
    const ws = new WebSocket(serverUrl(h.web, 'ws') + TEST_CALL_WS_PATH);
    const texts: string[] = [];
    ws.on('message', (d: Buffer) => texts.push(d.toString()));
    const code = await new Promise<number>((resolve) => ws.once('close', (n) => resolve(n)));
    expect(code).toBe(1013);
    expect(texts).toEqual([JSON.stringify({ type: 'ended', reason: 'not-ready' })]);
    expect(h.legs).toHaveLength(0);
  });
});
