import { describe, expect, it } from 'vitest';
import { whiteNoise } from '../speech/helpers.js';
import { startCall } from './harness.js';

/**
 * `speech.echo.cancel: true` on a bot that plays a tone (ToneTts: 300 Hz, like the conformance greeting; hold beeps
 * and dial tones alike): the canceller used to lock onto a wrong lag of the tone, and the echo of the prompt resumed
 * after a false interruption stopped the bot again. It now takes no delay from periodic audio and the guard covers.
 */
const REPLY =
  'Your latest invoice is in your account under Billing, refunds reach your card within five working days, and you can change your payment method online at any time.';
const intents = [{ name: 'billing', keywords: ['bill'], responses: [REPLY] }];

/** A call with the canceller on, on an echoing line (`delayMs`, 6 dB, μ-law), that has just started the long reply. */
async function inReply(delayMs: number, seed: number, asrScript: string[]) {
  const h = startCall({
    leg: { echo: { delayMs, erlDb: 6, mulaw: true, seed } },
    // (the energy VAD reacts before the line is measured: the line is declared as echoing strongly from the start)
    deps: { config: { speech: { echo: { cancel: true, minErlDb: 6 } }, dialog: { intents } }, asrScript },
  });
  await h.untilListening();
  await h.leg.feedTone(400); // "bill please"
  await h.leg.pumpUntil(() => h.state() === 'speaking');
  return h;
}

describe('echo canceller on a tone prompt, through the call', () => {
  it('the echo alone never interrupts the bot', async () => {
    let calls = 0;
    for (const delayMs of [20, 150, 300]) {
      for (const seed of [3, 11]) {
        const h = await inReply(delayMs, seed, ['bill please']);
        await h.untilListening(); // the whole reply plays out over its echo
        h.leg.hangupByCaller();
        const record = await h.done;
        expect(h.leg.clears, `${delayMs} ms, seed ${seed}`).toHaveLength(0);
        expect(record.bargeIn).toMatchObject({ interruptions: 0 });
        calls++;
      }
    }
    expect(calls).toBe(6);
  });

  it('a noise burst stops the bot once, and the resumed prompt plays out over its echo (it used to be stopped again)', async () => {
    let calls = 0;
    for (const delayMs of [20, 150, 300]) {
      // seed 3: the conformance suite's echo line
      const h = await inReply(delayMs, 3, ['bill please', '']);
      await h.leg.feedSilence(1500);
      await h.leg.feedPcm(whiteNoise(300, 12000, 8000, 5)); // a noise burst
      await h.leg.pumpUntil(() => h.states().some((s) => s.cause === 'false interruption: resuming the prompt'));
      await h.untilListening();
      h.leg.hangupByCaller();
      const record = await h.done;
      expect(h.leg.clears, `${delayMs} ms`).toHaveLength(1);
      expect(record.bargeIn, `${delayMs} ms`).toMatchObject({ interruptions: 1, recovered: 1 });
      const bot = record.transcript.filter((e) => e.speaker === 'bot');
      const heard = bot.find((e) => e.interrupted)!.text.replace(/ … \[interrupted\]$/, '');
      expect(`${heard} ${bot.at(-1)!.text}`).toBe(REPLY); // nothing lost, nothing said twice
      calls++;
    }
    expect(calls).toBe(3);
  });
});
