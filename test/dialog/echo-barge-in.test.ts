import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/core/random.js';
import { ScriptedAsr, type ToneTts } from '../../src/dialog/scripted.js';
import type { VadFactory } from '../../src/speech/types.js';
import { startCall } from './harness.js';

/** Long enough to talk over: ToneTts speaks 40 ms per character. */
const REPLY =
  'Your latest invoice is in your account under Billing, refunds reach your card within five working days, and you can change your payment method online at any time.';
const intents = [
  { name: 'billing', keywords: ['bill'], responses: [REPLY] },
  { name: 'cancel', keywords: ['cancel'], responses: ['Your order is cancelled.'] },
];
/** a simulated phone line: 150 ms echo, 6 dB return loss (the worst the issue names), μ-law */
const ECHO = { delayMs: 150, erlDb: 6, mulaw: true, seed: 11 };
/**
 * The energy VAD here reacts within 100 ms, before the guard's first measurement (0.3 s): the line is declared as
 * echoing strongly from the start. (Silero reacts later than the measurement; see docs/barge-in.md.)
 */
const STRONG_ECHO = { minErlDb: 6 };

function noiseBurst(ms: number, amplitude: number, seed: number): Int16Array {
  const rand = mulberry32(seed);
  return Int16Array.from({ length: (ms * 8000) / 1000 }, () => Math.round((rand() * 2 - 1) * amplitude));
}

/** A call on an echoing line, asked about the bill, that has just started the long reply. */
async function inReply(config: Record<string, unknown>, asrScript: string[]) {
  const h = startCall({
    leg: { echo: ECHO },
    deps: {
      config: {
        ...config,
        speech: { echo: { ...STRONG_ECHO, ...(config.speech as { echo?: object } | undefined)?.echo } },
        dialog: { intents, ...(config.dialog as object) },
      },
      asrScript,
    },
  });
  await h.untilListening();
  await h.leg.feedTone(400); // "bill please"
  await h.leg.pumpUntil(() => h.state() === 'speaking');
  return h;
}

async function metric(h: Awaited<ReturnType<typeof inReply>>, name: string, labels?: Record<string, string>) {
  const all = await h.deps.metrics.getMetricsAsJSON();
  const values = all.find((m) => m.name === name)?.values ?? [];
  return values.find((v) => Object.entries(labels ?? {}).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

describe('barge-in on an echoing line', () => {
  it('the echo alone never interrupts the bot (and it does with the echo guard off)', async () => {
    for (const enabled of [true, false]) {
      const h = await inReply({ speech: { echo: { enabled } } }, ['bill please']);
      await h.untilListening(); // the whole reply plays out, or is cut by its own echo
      h.leg.hangupByCaller();
      const record = await h.done;
      if (enabled) {
        expect(h.leg.clears).toHaveLength(0);
        expect(record.transcript.some((e) => e.interrupted)).toBe(false);
        expect(record.bargeIn).toMatchObject({ interruptions: 0 });
        expect(record.bargeIn!.suspectedEcho).toBeGreaterThan(0);
        expect(await metric(h, 'voicebot_dialog_suspected_echo_total')).toBe(record.bargeIn!.suspectedEcho);
      } else {
        // the same line without the guard: the bot hears itself and stops
        expect(h.leg.clears.length).toBeGreaterThan(0);
        expect(record.bargeIn!.interruptions).toBeGreaterThan(0);
      }
    }
  });

  it('a caller who talks over the echo interrupts the bot', async () => {
    const h = await inReply({}, ['bill please', 'actually cancel my order']);
    await h.leg.feedSilence(1500); // the bot talks, its echo comes back
    expect(h.leg.clears).toHaveLength(0);
    await h.leg.feedTone(400, 8000, 440);
    expect(h.leg.clears).toHaveLength(1);
    await h.leg.pumpUntil(() => (h.deps.tts as ToneTts).spoken.includes('Your order is cancelled.'));
    await h.untilListening();
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).toEqual([
      'bill please',
      'actually cancel my order',
    ]);
    expect(record.bargeIn).toMatchObject({ interruptions: 1, recovered: 0 });
  });

  it('a noise burst that stops the bot is recovered: the prompt resumes from the first word not heard', async () => {
    // the burst is recognised as nothing (empty text): no speech after all
    const h = await inReply({}, ['bill please', '']);
    await h.leg.feedSilence(1500);
    await h.leg.feedPcm(noiseBurst(300, 12000, 5));
    expect(h.leg.clears).toHaveLength(1);
    await h.leg.pumpUntil(() => h.states().some((s) => s.cause === 'false interruption: resuming the prompt'));
    await h.untilListening();
    h.leg.hangupByCaller();
    const record = await h.done;
    const bot = record.transcript.filter((e) => e.speaker === 'bot');
    const cut = bot.find((e) => e.interrupted)!;
    const heard = cut.text.replace(/ … \[interrupted\]$/, '');
    const rest = bot.at(-1)!;
    expect(rest.interrupted).toBeUndefined();
    expect(`${heard} ${rest.text}`).toBe(REPLY); // nothing lost, nothing said twice
    expect(heard.length).toBeGreaterThan(10);
    expect(record.bargeIn).toMatchObject({ interruptions: 1, recovered: 1 });
    expect(await metric(h, 'voicebot_dialog_false_interruptions_total', { resumed: 'yes' })).toBe(1);
  });

  it('dialog.interruption.resume: false leaves the bot silent after a false interruption', async () => {
    const h = await inReply({ dialog: { interruption: { resume: false } } }, ['bill please', '']);
    await h.leg.feedSilence(1500);
    await h.leg.feedPcm(noiseBurst(300, 12000, 5));
    expect(h.leg.clears).toHaveLength(1);
    await h.leg.pumpUntil(() => (h.deps.asr as ScriptedAsr).remaining === 0);
    await h.leg.feedSilence(2000);
    const spoken = (h.deps.tts as ToneTts).spoken;
    expect(spoken.at(-1)).toBe(REPLY); // nothing said after the cut reply
    expect(h.state()).toBe('listening');
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.bargeIn).toMatchObject({ interruptions: 1, recovered: 0 });
    expect(await metric(h, 'voicebot_dialog_false_interruptions_total', { resumed: 'no' })).toBe(1);
  });

  it('speech.echo.fastOnset: loud audio over the settled echo stops the bot before the VAD decides, and the prompt resumes when the VAD never confirms it', async () => {
    /** a VAD that never hears speech: only the fast cue can stop the bot */
    const deaf: VadFactory = {
      create: () => ({ push: () => [], speaking: false, reset() {}, close() {} }),
    };
    for (const fastOnset of [true, false]) {
      const h = startCall({
        leg: { echo: ECHO },
        deps: {
          config: { speech: { echo: { ...STRONG_ECHO, fastOnset } }, dialog: { intents, greeting: REPLY } },
          asrScript: [],
          vad: deaf,
        },
      });
      await h.leg.pumpUntil(() => h.state() === 'greeting');
      await h.leg.feedSilence(1500); // the bot talks, the echo handling measures its echo
      expect(h.leg.clears).toHaveLength(0);
      await h.leg.feedTone(400, 8000, 440); // the caller, over the echo
      if (fastOnset) {
        expect(h.leg.clears).toHaveLength(1);
        // no speech start from the VAD within 1.2 s: the prompt goes on from the first word not heard
        await h.leg.pumpUntil(() => h.states().some((s) => s.cause === 'false interruption: resuming the prompt'));
      } else {
        await h.leg.feedSilence(1000);
        expect(h.leg.clears).toHaveLength(0);
      }
      h.leg.hangupByCaller();
      const record = await h.done;
      expect(record.bargeIn).toMatchObject({ interruptions: fastOnset ? 1 : 0, recovered: fastOnset ? 1 : 0 });
    }
  });

  it('a fast cue the VAD confirms late (Silero can take ~1 s to call speech) stands: the prompt does not resume over the caller', async () => {
    /** a VAD that calls speech 1 s after the first loud frame it hears (the cue fires 100 ms into the same sound) */
    const slow: VadFactory = {
      create: () => {
        let heard = 0;
        let loudAt: number | null = null;
        let started = false;
        return {
          push(pcm: Int16Array) {
            if (loudAt === null && pcm.some((v) => Math.abs(v) > 2000)) loudAt = heard;
            heard += pcm.length;
            if (started || loudAt === null || heard - loudAt < 16_000) return [];
            started = true;
            return [{ type: 'speechStart' as const, atMs: (loudAt * 1000) / 16_000 }];
          },
          get speaking() {
            return started;
          },
          reset() {},
          close() {},
        };
      },
    };
    const h = startCall({
      leg: { echo: ECHO },
      deps: {
        config: { speech: { echo: STRONG_ECHO }, dialog: { intents, greeting: REPLY } },
        asrScript: [],
        vad: slow,
      },
    });
    await h.leg.pumpUntil(() => h.state() === 'greeting');
    await h.leg.feedSilence(1500); // the bot talks, the echo handling measures its echo
    await h.leg.feedTone(400, 8000, 440); // the caller, over the echo: the cue stops the bot
    expect(h.leg.clears).toHaveLength(1);
    await h.leg.feedSilence(1500); // the VAD's speech start comes 0.9 s after the cue
    expect(h.states().map((s) => s.cause)).not.toContain('false interruption: resuming the prompt');
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.bargeIn).toMatchObject({ interruptions: 1, recovered: 0 });
  });

  it('dialog.interruption.minWords: speech over the bot stops it only once the recognition holds that many words', async () => {
    for (const [minWords, clears] of [
      [0, 1],
      [2, 0],
    ] as const) {
      const h = startCall({
        leg: { echo: ECHO },
        deps: {
          config: { speech: { echo: STRONG_ECHO }, dialog: { intents, interruption: { minWords } } },
          asr: new ScriptedAsr(['bill please', 'mhm'], { partials: true }),
        },
      });
      await h.untilListening();
      await h.leg.feedTone(400);
      await h.leg.pumpUntil(() => h.state() === 'speaking');
      await h.leg.feedSilence(1500);
      await h.leg.feedTone(400, 8000, 440); // "mhm": long enough to barge in, one word
      await h.leg.feedSilence(1000);
      expect({ minWords, clears: h.leg.clears.length }).toEqual({ minWords, clears });
      h.leg.hangupByCaller();
      const record = await h.done;
      expect(record.bargeIn!.interruptions).toBe(clears);
      if (minWords > 0) {
        expect(
          h.events('turn').some((e) => e.milestone.step === 'discarded' && e.milestone.reason === 'too-few-words'),
        ).toBe(true);
      }
    }
  });
});
