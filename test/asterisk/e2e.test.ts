/**
 * The whole bot on the Asterisk backend: emulator caller → ARI/RTP → AsteriskCall → runCall (scripted ASR,
 * tone TTS, energy VAD) → RTP back to the caller.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, MemoryRecordSink, ToneTts, type TestDeps } from '../../src/dialog/scripted.js';
import type { CallRecord } from '../../src/core/call-record.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { peak, startAriEmulator, type EndpointBehaviour } from '../emulators/ari/index.js';
import { assertReleased, startTestBackend, tone, waitFor, useAsteriskRig } from './helpers.js';
import { clip } from '../helpers/fixtures.js';

const JFK = clip('jfk.wav');

const udpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('end to end: caller ↔ emulated Asterisk ↔ call core', () => {
  const rig = useAsteriskRig();

  async function start(opts: {
    asrScript?: Parameters<typeof createTestDeps>[0] extends infer O
      ? O extends { asrScript?: infer S }
        ? S
        : never
      : never;
    agent?: EndpointBehaviour;
    tts?: ToneTts;
    onCall?: (leg: CallLeg, deps: TestDeps) => Promise<void>;
    dialog?: Record<string, unknown>;
  }) {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': opts.agent ?? { answer: 'answer', ringMs: 50 } } });
    const records = new MemoryRecordSink();
    const deps = createTestDeps({
      asrScript: opts.asrScript ?? [],
      records,
      tts: opts.tts ?? new ToneTts({ msPerChar: 10 }),
      config: { dialog: { greeting: 'Hello, how can I help?', ...opts.dialog } },
    });
    const finished: CallRecord[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      if (opts.onCall) return opts.onCall(leg, deps);
      finished.push(await runCall(leg, deps));
    });
    return { deps, records, finished };
  }

  it('a caller WAV produces a transcript and a CallRecord', async () => {
    const { records, finished, deps } = await start({ asrScript: ['And so my fellow Americans ask not'] });
    const caller = await rig.emu.placeCall({ from: '+15557654321' });
    await waitFor(() => caller.audibleMs() >= 100, 5000, 'greeting');
    await caller.sendWav(JFK, { speed: 4 });
    await caller.sendSilence(1200, { speed: 2 });
    const callerTurn = () =>
      deps.published.some((e) => e.type === 'transcript' && e.entry.speaker === 'caller' && !e.partial);
    await waitFor(callerTurn, 8000, 'caller turn transcribed');
    caller.hangup();
    await waitFor(() => finished.length === 1, 5000, 'record');
    const record = finished[0]!;
    expect(record.backend).toBe('asterisk');
    expect(record.phone).toBe('+15557654321');
    expect(record.transcript.find((e) => e.speaker === 'caller')?.text).toBe('And so my fellow Americans ask not');
    expect(record.transcript.some((e) => e.speaker === 'bot')).toBe(true);
    expect(records.of('end')).toHaveLength(1);
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('each turn’s milestones are logged at info and published as call events; an empty result says why it was dropped', async () => {
    const lines: Array<{ msg: string; level: number }> = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as never) });
    rig.emu = await startAriEmulator();
    const deps = createTestDeps({
      asrScript: ['I need help with my bill', ''],
      logger,
      tts: new ToneTts({ msPerChar: 5 }),
      config: { dialog: { greeting: 'Hi' } },
    });
    rig.t = await startTestBackend(rig.emu, async (leg) => void (await runCall(leg, deps)));
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.audibleMs() >= 20, 5000, 'greeting');
    const turns = () => deps.published.flatMap((e) => (e.type === 'turn' ? [e.milestone] : []));
    for (let i = 0; i < 2; i++) {
      await caller.sendPcm(tone(600, 300, 8000, 12000), { speed: 1 });
      await caller.sendSilence(900, { speed: 2 });
      await waitFor(() => turns().filter((m) => m.step === 'speech-end').length > i, 5000, `turn ${i + 1} ended`);
    }
    await waitFor(() => turns().some((m) => m.step === 'discarded'), 5000, 'empty result discarded');
    const steps = turns().map((m) => m.step);
    expect(steps.slice(0, 3)).toEqual(['speech-start', 'speech-end', 'asr-final']);
    expect(turns().find((m) => m.step === 'asr-final')).toMatchObject({ text: 'I need help with my bill' });
    expect(turns().find((m) => m.step === 'discarded')).toMatchObject({ reason: 'empty' });
    const logged = lines.filter((l) => l.level === 30).map((l) => l.msg);
    for (const step of ['speech-start', 'speech-end', 'asr-final', 'discarded'])
      expect(logged, step).toContain(`caller turn: ${step}`);
    expect(JSON.stringify(lines)).not.toContain('help with my bill'); // words stay out of the log
    caller.hangup();
  });

  it('barge-in: the caller speaks over the greeting, the bot stops talking at once', async () => {
    const tts = new ToneTts({ msPerChar: 80 }); // ~2 s greeting
    const { finished } = await start({ tts, asrScript: ['I want to talk about my bill'] });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.audibleMs() >= 200, 5000, 'greeting starts');
    await caller.sendPcm(tone(800, 300, 8000, 12000), { speed: 1 });
    const heardAtBargeIn = caller.audibleMs();
    await caller.sendSilence(600, { speed: 1 });
    // the greeting (~1.8 s) was cut: the caller heard well under all of it
    const greetingMs = (tts.samplesFor('Hello, how can I help?') / 16000) * 1000;
    expect(heardAtBargeIn).toBeLessThan(greetingMs);
    caller.hangup();
    await waitFor(() => finished.length === 1, 5000, 'record');
    const bot = finished[0]!.transcript.find((e) => e.speaker === 'bot');
    expect(bot?.interrupted).toBe(true);
  });

  it('barge-in: after the bot decides to stop, the caller hears less than 100 ms more of its audio', async () => {
    const tts = new ToneTts({ msPerChar: 80 }); // ~2 s greeting
    const clearedAt: number[] = [];
    const { deps } = await start({
      tts,
      asrScript: ['I want to talk about my bill'],
      onCall: async (leg, d) => {
        // the moment the call core flushes the bot's queued audio (its barge-in decision)
        const clear = leg.clearAudio.bind(leg);
        leg.clearAudio = () => {
          clearedAt.push(performance.now());
          return clear();
        };
        await runCall(leg, d);
      },
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.audibleMs() >= 200, 5000, 'greeting starts');
    const speaking = caller.sendPcm(tone(800, 300, 8000, 12000), { speed: 1 });
    await waitFor(() => clearedAt.length > 0, 3000, 'barge-in decided');
    await speaking;
    const cut = clearedAt[0]!;
    // the caller's own words never come back; everything audible after the cut and before the bot's next turn is
    // greeting that was still on its way (end of turn needs 600 ms of silence, so nothing new is due yet)
    const afterCut = () => caller.received.filter((c) => c.at > cut && c.at <= cut + 400 && peak(c.pcm) > 500);
    await waitFor(() => performance.now() > cut + 400, 2000, 'a window after the cut');
    expect(caller.received.some((c) => c.at < cut && peak(c.pcm) > 500)).toBe(true); // the greeting was playing
    expect(afterCut().length * 20).toBeLessThan(100);
    expect(
      deps.published.some((e) => e.type === 'transcript' && e.entry.speaker === 'bot' && e.entry.interrupted),
    ).toBe(true);
    caller.hangup();
  });

  it('DTMF 0 escalates: agent leg originated with the X-Voicebot headers, record says escalated', async () => {
    const { records, finished } = await start({});
    const caller = await rig.emu.placeCall({ from: '+15550001234' });
    await waitFor(() => caller.audibleMs() >= 100, 5000, 'greeting');
    caller.dtmf('0');
    await waitFor(() => rig.emu.requestsTo('POST', /\/channels\/create$/).length === 1, 5000, 'originate');
    const vars = (rig.emu.requestsTo('POST', /\/channels\/create$/)[0]!.body as { variables: Record<string, string> })
      .variables;
    expect(vars['PJSIP_HEADER(add,X-Voicebot-Call-Id)']).toBe(caller.channelId);
    expect(vars['PJSIP_HEADER(add,X-Voicebot-Phone)']).toBe('+15550001234');
    expect(vars['PJSIP_HEADER(add,X-Voicebot-Summary)']).toBeDefined();
    await waitFor(() => finished.length === 1, 8000, 'core done after hand-off');
    expect(finished[0]!.escalation?.outcome).toBe('answered');
    expect(records.of('escalation')).toHaveLength(1);
    const agent = [...rig.emu.channels.values()].find((c) => c.kind === 'dialed')!;
    expect(agent.bridgeId).not.toBeNull();
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('agent busy: the core tells the caller and carries on; record says busy', async () => {
    const { finished } = await start({ agent: { answer: 'busy', ringMs: 30 } });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.audibleMs() >= 100, 5000, 'greeting');
    caller.dtmf('0');
    await waitFor(() => rig.emu.requestsTo('POST', /\/dial$/).length === 1, 5000, 'dial');
    await waitFor(() => rig.emu.requestsTo('DELETE', /\/moh$/).length === 1, 5000, 'moh stopped');
    const heardBefore = caller.audibleMs();
    await waitFor(() => caller.audibleMs() > heardBefore + 200, 5000, 'transfer-failed prompt');
    expect(rig.emu.channels.has(caller.channelId)).toBe(true);
    caller.hangup();
    await waitFor(() => finished.length === 1, 5000, 'record');
    expect(finished[0]!.escalation?.outcome).toBe('busy');
  });

  it('caller hangup during TTS releases every resource (ports, sockets, timers, routes, session, bridge)', async () => {
    const tts = new ToneTts({ msPerChar: 200 }); // a long greeting
    const { finished } = await start({ tts });
    const sockets0 = udpSockets();
    const timers0 = timers();
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.audibleMs() >= 200, 5000, 'speaking');
    expect(udpSockets()).toBe(sockets0 + 2); // the bot's socket and Asterisk's UnicastRTP socket
    caller.hangup();
    await waitFor(() => finished.length === 1, 5000, 'record');
    await waitFor(
      () => assertReleased(rig.t!, rig.emu).length === 0,
      3000,
      `release: ${assertReleased(rig.t!, rig.emu).join(', ')}`,
    );
    expect(tts.active).toBe(0);
    await waitFor(() => udpSockets() === sockets0, 2000, 'sockets closed');
    await waitFor(() => timers() <= timers0, 2000, `timers back to ${timers0} (now ${timers()})`);
  });

  it('one call that throws leaves the other concurrent calls untouched', async () => {
    const finished: CallRecord[] = [];
    await start({
      asrScript: ['first caller', 'second caller'],
      onCall: async (leg, deps) => {
        if (leg.from === 'crash') throw new Error('boom in one call');
        finished.push(await runCall(leg, deps));
      },
    });
    const [a, bad, b] = await Promise.all([
      rig.emu.placeCall({ from: 'a' }),
      rig.emu.placeCall({ from: 'crash' }),
      rig.emu.placeCall({ from: 'b' }),
    ]);
    await bad!.ended; // the crashing call was hung up and released
    await waitFor(() => a!.audibleMs() >= 100 && b!.audibleMs() >= 100, 5000, 'others greeted');
    await Promise.all([a!.sendPcm(tone(500, 300, 8000, 12000)), b!.sendPcm(tone(500, 300, 8000, 12000))]);
    await Promise.all([a!.sendSilence(600), b!.sendSilence(600)]);
    a!.hangup();
    b!.hangup();
    await waitFor(() => finished.length === 2, 5000, 'both records');
    const texts = finished.flatMap((r) => r.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).sort();
    expect(texts).toEqual(['first caller', 'second caller']);
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it("a caller streaming continuously like a real phone: the turn ends on the line's own silence", async () => {
    const { finished, deps } = await start({ asrScript: ['check my order'] });
    const caller = await rig.emu.placeCall({ continuous: true });
    await waitFor(() => caller.audibleMs() >= 100, 5000, 'greeting');
    await caller.sendPcm(tone(600, 300, 8000, 12000), { speed: 1 }); // no explicit silence after it
    const callerTurn = () =>
      deps.published.some((e) => e.type === 'transcript' && e.entry.speaker === 'caller' && !e.partial);
    await waitFor(callerTurn, 5000, 'turn ended by the idle stream');
    caller.hangup();
    await waitFor(() => finished.length === 1, 5000, 'record');
    expect(finished[0]!.transcript.find((e) => e.speaker === 'caller')?.text).toBe('check my order');
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });
});
