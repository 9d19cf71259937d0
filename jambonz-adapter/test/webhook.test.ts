import { FakeClock } from '../../test/helpers/fake-clock.js';
import { afterEach, describe, expect, it } from 'vitest';
import { attached, startHarness, tone, waitFor, SECRET, type Harness } from './harness.js';
import { validateVerbs } from '../../test/emulators/jambonz/index.js';
import { signWebhook } from '../src/signature.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const CALLER = '+15551230001';

describe('jambonz HTTP webhooks', () => {
  it('answers the call webhook with a valid listen verb as application/json', async () => {
    h = await startHarness();
    const body = JSON.stringify({ call_sid: 'cs-1', from: CALLER, to: '+15550000', direction: 'inbound' });
    const res = await fetch(`${h.appUrl}/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'jambonz-signature': signWebhook(SECRET, body) },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const verbs = (await res.json()) as Record<string, unknown>[];
    expect(() => validateVerbs(verbs)).not.toThrow();
    expect(verbs[0]).toMatchObject({
      verb: 'listen',
      sampleRate: 16000,
      passDtmf: true,
      bidirectionalAudio: { enabled: true, streaming: true, sampleRate: 16000 },
      wsAuth: { username: 'cs-1' },
    });
    expect(String(verbs[0]!.url)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/jambonz\/audio$/);
    expect(String(verbs[0]!.actionHook)).toMatch(/\/jambonz\/hook\/listen-ended$/);
  });

  it.each([
    ['missing', null, 0],
    ['mismatch', 'some-other-secret', 0],
    ['stale', undefined, -301],
  ] as const)('rejects a %s signature with 401 and logs it without the body', async (reason, signWith, skew) => {
    h = await startHarness();
    const emu = await h.emulator({ signWith, signatureSkewSec: skew });
    await expect(emu.placeCall({ from: CALLER, to: '+15550000' })).rejects.toThrow(/401/);
    expect(h.legs).toHaveLength(0);
    expect(h.backend.stats().calls).toBe(0);
    expect(await h.counter('voicebot_jambonz_webhook_rejected_total', { reason })).toBe(1);
    const rejected = h.logs.filter((l) => l.includes('webhook rejected'));
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).not.toContain('5551230001');
  });

  it('accepts a signature 299 s old (inside the 300 s tolerance)', async () => {
    h = await startHarness();
    const emu = await h.emulator({ signatureSkewSec: -299 });
    const legP = h.nextLeg();
    await emu.placeCall({ from: CALLER, to: '+15550000' });
    expect((await legP).from).toBe(CALLER);
  });

  it.each([
    ['audio.jambonz.org', 16000],
    ['audio.drachtio.org', 8000],
  ] as const)('streams caller audio in and bot audio out over %s at %i Hz', async (subprotocol, rate) => {
    h = await startHarness({ sampleRate: rate });
    const emu = await h.emulator({ audioSubprotocol: subprotocol });
    const legP = h.nextLeg();
    const call = await emu.placeCall({ from: CALLER, to: '+15550000' });
    const leg = await legP;
    expect(leg.inputSampleRate).toBe(rate);
    await attached(leg);
    const frames: Int16Array[] = [];
    leg.on('audio', (f) => frames.push(f));
    const caller = tone(500, rate);
    await call.sendAudio(caller, rate);
    await waitFor(() => frames.length === 25, 3000, '25 caller frames');
    expect(frames.every((f) => f.length === (rate * 20) / 1000)).toBe(true);
    expect(Array.from(frames[3]!)).toEqual(Array.from(caller.subarray(3 * (rate / 50), 4 * (rate / 50))));

    const bot = tone(300, rate, 660);
    leg.sendAudio(bot);
    await leg.waitForPlayout(AbortSignal.timeout(5000));
    const heard = call.heard();
    // What the caller heard starts with our audio, bit-exact, followed by the tail silence.
    expect(Array.from(heard.subarray(0, bot.length))).toEqual(Array.from(bot));
    expect(call.markReports.at(-1)).toMatchObject({ event: 'playout' });
  });

  it('passes DTMF events to the call core', async () => {
    h = await startHarness();
    const emu = await h.emulator();
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    const digits: string[] = [];
    leg.on('dtmf', (d) => digits.push(d));
    call.sendDtmf('5');
    call.sendDtmf('#');
    await waitFor(() => digits.length === 2, 2000, 'two digits');
    expect(digits).toEqual(['5', '#']);
  });

  it('barge-in sends killAudio, drops queued audio and settles waitForPlayout', async () => {
    h = await startHarness();
    const emu = await h.emulator();
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    leg.sendAudio(tone(3000, 16000));
    const played = leg.waitForPlayout(AbortSignal.timeout(5000));
    await waitFor(() => call.heard().length > 0 || emu.calls[0]!.commands.length > 0, 3000, 'playout start');
    const dropped = leg.clearAudio();
    expect(dropped).toBeGreaterThan(16000);
    await played;
    await waitFor(() => call.commands.includes('killAudio'), 2000, 'killAudio');
    expect(call.heard().length).toBeLessThan(16000 * 3);
  });

  it('counts and drops malformed frames; the call goes on', async () => {
    h = await startHarness();
    const emu = await h.emulator();
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    const frames: Int16Array[] = [];
    leg.on('audio', (f) => frames.push(f));
    call.sendRaw(Buffer.alloc(641)); // odd byte length
    call.sendRaw('{not json');
    call.sendRaw(JSON.stringify({ type: 'something-else' }));
    await call.sendAudio(tone(100, 16000), 16000);
    await waitFor(() => frames.length === 5, 2000, 'audio after bad frames');
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'odd_length' })).toBe(1);
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'not_json' })).toBe(1);
    expect(await h.counter('voicebot_jambonz_malformed_frames_total', { kind: 'unknown_event' })).toBe(1);
    expect(leg.ended).toBe(false);
  });

  it('caller hangup (status webhook) ends the leg and releases everything', async () => {
    h = await startHarness();
    const emu = await h.emulator();
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    leg.sendAudio(tone(1000, 16000));
    const reasons: string[] = [];
    leg.on('hangup', (r) => reasons.push(r));
    await call.hangup();
    expect(await leg.closed).toMatch(/completed|audio/);
    expect(reasons).toHaveLength(1);
    expect(leg.held).toEqual({ audio: false, control: false, pacer: false, timers: 0, waiters: 0 });
    await waitFor(() => h.backend.stats().audioSockets === 0 && h.backend.stats().running === 0, 2000, 'release');
    expect(h.backend.stats()).toMatchObject({ calls: 0, audioSockets: 0, controlSockets: 0, running: 0 });
    expect(leg.listenerCount('audio')).toBe(0);
  });

  it('a vanished jambonz (sockets dropped, no status) ends the call after the grace period, not before', async () => {
    const clock = new FakeClock();
    h = await startHarness({ reconnectGraceMs: 60_000 }, { clock });
    const emu = await h.emulator();
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    call.vanish();
    await waitFor(() => !leg.hasAudio, 2000, 'the bot saw the socket close');
    clock.advance(59_999);
    expect(leg.ended).toBe(false);
    clock.advance(1);
    expect(await leg.closed).toBe('audio-lost');
    expect(h.backend.stats().calls).toBe(0);
  });

  it('the bot hanging up sends disconnect and then a hangup verb', async () => {
    h = await startHarness();
    const emu = await h.emulator();
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    await leg.hangup('goodbye');
    expect(await call.done).toBe('hangup verb');
    expect(call.commands).toContain('disconnect');
    expect(call.verbArrays.at(-1)).toEqual([{ verb: 'hangup' }]);
    expect(call.verbErrors).toEqual([]);
  });
});

describe('jambonz listen socket lost mid-call', () => {
  it.each(['webhook', 'ws'] as const)(
    '%s: the listen actionHook reconnects the audio; the call survives',
    async (mode) => {
      h = await startHarness({ reconnectGraceMs: 3000 });
      const emu = await h.emulator({ mode });
      const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
      call.dropAudio();
      await waitFor(() => call.listens === 2 && leg.hasAudio, 3000, 'second listen');
      const frames: Int16Array[] = [];
      leg.on('audio', (f) => frames.push(f));
      await call.sendAudio(tone(60, 16000), 16000);
      await waitFor(() => frames.length === 3, 2000, 'audio on the new socket');
      expect(leg.ended).toBe(false);
      expect(h.backend.stats().audioSockets).toBe(1);
    },
  );
});

describe('jambonz marks', () => {
  it('a media server that never reports marks does not stall waitForPlayout past markTimeoutMs', async () => {
    const clock = new FakeClock();
    h = await startHarness({ markTimeoutMs: 30_000 }, { clock });
    const emu = await h.emulator({ ignoreMarks: true });
    const { call, leg } = await h.callIn(emu, { from: CALLER, to: '+15550000' });
    leg.sendAudio(tone(100, 16000));
    let played = false;
    const playout = leg.waitForPlayout(AbortSignal.timeout(3000)).then(() => (played = true));
    await waitFor(() => leg.held.timers === 1, 2000, 'mark sent and its timer armed');
    clock.advance(29_999);
    await Promise.resolve();
    expect(played).toBe(false);
    clock.advance(1);
    await playout;
    expect(call.markReports).toEqual([]);
    expect(h.logs.some((l) => l.includes('did not report a mark'))).toBe(true);
    expect(leg.held.waiters).toBe(0);
  });
});

describe('jambonz call isolation', () => {
  it('one call failing (malformed frames, then vanishing) leaves a concurrent call untouched', async () => {
    h = await startHarness({ reconnectGraceMs: 200 });
    const emu = await h.emulator();
    const firstP = h.nextLeg();
    const bad = await emu.placeCall({ from: CALLER, to: '+15550000' });
    const badLeg = await firstP;
    const secondP = h.nextLeg();
    const good = await emu.placeCall({ from: '+15551230002', to: '+15550000' });
    const goodLeg = await secondP;
    await attached(badLeg);
    await attached(goodLeg);
    const frames: Int16Array[] = [];
    goodLeg.on('audio', (f) => frames.push(f));
    bad.sendRaw(Buffer.alloc(7));
    bad.vanish();
    expect(await badLeg.closed).toBe('audio-lost');
    await good.sendAudio(tone(200, 16000), 16000);
    await waitFor(() => frames.length === 10, 2000, 'audio on the surviving call');
    goodLeg.sendAudio(tone(100, 16000));
    await goodLeg.waitForPlayout(AbortSignal.timeout(3000));
    expect(goodLeg.ended).toBe(false);
    expect(h.backend.stats()).toMatchObject({ calls: 1, audioSockets: 1 });
  });
});
