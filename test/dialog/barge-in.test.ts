import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { ScriptedAsr, ToneTts } from '../../src/dialog/scripted.js';
import { INTERRUPTED_SUFFIX } from '../../src/dialog/transcript.js';
import { startCall } from './harness.js';

const REPLY =
  'Your latest invoice is in your account under Billing, refunds reach your card within five working days, and you can change your payment method online at any time.';
const intents = [
  { name: 'billing', keywords: ['bill'], responses: [REPLY] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Your order is cancelled.'] },
];

function toneFrame(samples: number): Int16Array {
  const f = new Int16Array(samples);
  for (let i = 0; i < samples; i++) f[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000));
  return f;
}

describe('barge-in', () => {
  it('stops playback within one frame of the interruption, records the heard part, and takes the caller turn', async () => {
    const h = startCall({
      deps: {
        config: { dialog: { intents }, speech: { vad: { interruptionMs: 100 } } },
        asrScript: ['I have a question about my bill', 'actually cancel my order'],
      },
    });
    await h.untilListening();
    await h.leg.feedTone(400);
    await h.leg.pumpUntil(() => h.state() === 'speaking');
    const playedBeforeReply = h.leg.playedSamples;
    await h.leg.feedSilence(1000); // the caller hears one second of the reply
    expect(h.leg.queuedSamples).toBeGreaterThan(0);

    // the caller talks over the bot, one 20 ms frame at a time
    const firstSpeechFrame = h.leg.framesFed + 1;
    const frame = toneFrame(h.leg.samplesPerInputFrame);
    for (let i = 0; i < 20 && h.leg.clears.length === 0; i++) {
      h.leg.feed(frame);
      await yieldToLoop();
    }
    expect(h.leg.clears).toHaveLength(1);
    const clear = h.leg.clears[0]!;
    // energy VAD: speech starts after 60 ms; the interruption fires once speech has lasted 100 ms,
    // i.e. on the 5th speech frame. clearAudio must happen while that frame is handled.
    expect(clear.framesFed - firstSpeechFrame + 1).toBe(5);
    expect(clear.dropped).toBeGreaterThan(0);
    expect(h.leg.queuedSamples).toBe(0);
    const playedAtClear = h.leg.playedSamples;

    await h.leg.feedTone(300); // the caller goes on talking; nothing more of the prompt plays
    expect(h.leg.playedSamples).toBe(playedAtClear);
    await h.leg.pumpUntil(() => (h.deps.tts as ToneTts).spoken.includes('Your order is cancelled.'));
    await h.untilListening();
    h.leg.hangupByCaller();
    const record = await h.done;

    const bot = record.transcript.filter((e) => e.speaker === 'bot');
    const cut = bot.find((e) => e.interrupted);
    expect(cut).toBeDefined();
    expect(cut!.text.endsWith(INTERRUPTED_SUFFIX)).toBe(true);
    const heard = cut!.text.slice(0, -INTERRUPTED_SUFFIX.length);
    expect(REPLY.startsWith(heard)).toBe(true);
    const playedFraction = (playedAtClear - playedBeforeReply) / (REPLY.length * 40 * 8); // ToneTts: 40 ms/char, leg at 8 kHz
    expect(playedFraction).toBeGreaterThan(0.1);
    expect(playedFraction).toBeLessThan(0.3);
    // proportional by characters, whole words only: within one word of the played share
    expect(Math.abs(heard.length / REPLY.length - playedFraction)).toBeLessThan(12 / REPLY.length);
    // the speech that interrupted is the next caller turn
    expect(record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).toEqual([
      'I have a question about my bill',
      'actually cancel my order',
    ]);
    expect(h.states()).toContainEqual({ from: 'speaking', to: 'listening', cause: 'caller barged in' });
    expect(record.intent).toBe('cancel');
    const metrics = await h.deps.metrics.getMetricsAsJSON();
    const value = (name: string) => metrics.find((m) => m.name === name)?.values[0]?.value;
    expect(value('voicebot_dialog_barge_ins_total')).toBe(1);
    const latency = metrics.find((m) => m.name === 'voicebot_dialog_response_seconds')!;
    expect(
      latency.values.find((v) => (v as { metricName?: string }).metricName === 'voicebot_dialog_response_seconds_count')
        ?.value,
    ).toBe(2);
  });

  it('plays the legal notice without barge-in and ignores speech over it', async () => {
    const notice = 'This call is recorded. Your data is processed under our privacy policy, available online.';
    const h = startCall({
      deps: { config: { dialog: { notice, intents } }, asrScript: ['my bill please'] },
    });
    await h.leg.pumpUntil(() => h.leg.playedSamples > 4000);
    await h.leg.feedTone(800); // talks over the notice for 0.8 s
    await h.untilListening();
    expect(h.leg.clears).toHaveLength(0);
    const asr = h.deps.asr as ScriptedAsr;
    expect(asr.calls).toBe(0); // never even streamed to ASR
    expect(asr.remaining).toBe(1);
    h.leg.hangupByCaller();
    const record = await h.done;
    const [first, second] = record.transcript;
    expect(first).toMatchObject({ speaker: 'bot', text: notice });
    expect(first!.interrupted).toBeUndefined();
    expect(second).toMatchObject({ speaker: 'bot', text: 'Hello, thanks for calling. How can I help you today?' });
  });

  it('ignores a cough during a prompt that is too short to interrupt', async () => {
    const h = startCall({
      deps: { config: { dialog: { intents }, speech: { vad: { interruptionMs: 300 } } }, asrScript: ['bill'] },
    });
    await h.leg.pumpUntil(() => h.leg.playedSamples > 2000);
    await h.leg.feedTone(120); // speech for 120 ms < interruptionMs
    await h.untilListening();
    expect(h.leg.clears).toHaveLength(0);
    expect((h.deps.asr as ScriptedAsr).remaining).toBe(1); // that utterance was cancelled, not answered
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.some((e) => e.interrupted)).toBe(false);
  });
});
