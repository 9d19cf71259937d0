/**
 * The Asterisk media path against a network and a bridge that behave like real ones: reordered RTP on the
 * UnicastRTP leg, and music on hold mixed into every bridge member (the bot's own leg included).
 */
import { describe, expect, it } from 'vitest';
import type { CallLeg, TransferResult } from '../../src/telephony/port.js';
import { peak, startAriEmulator } from '../emulators/ari/index.js';
import { assertReleased, startTestBackend, tone, useAsteriskRig, waitFor } from './helpers.js';

const FRAMES = 60;

/**
 * Frame n says who it is in two halves of constant level, (n mod 8 + 1) × 100 and (n div 8 + 1) × 100: levels
 * where μ-law steps are far finer than 100, so the identity survives the codec.
 */
function levelCoded(): Int16Array {
  const pcm = new Int16Array(FRAMES * 160);
  for (let n = 0; n < FRAMES; n++) {
    pcm.fill(((n % 8) + 1) * 100, n * 160, n * 160 + 80);
    pcm.fill((Math.floor(n / 8) + 1) * 100, n * 160 + 80, (n + 1) * 160);
  }
  return pcm;
}

function frameIds(frames: Int16Array[]): number[] {
  return frames
    .filter((f) => peak(f) > 50)
    .map((f) => Math.round(f[0]! / 100) - 1 + 8 * (Math.round(f[159]! / 100) - 1));
}

describe('Asterisk media path on a real network', () => {
  const rig = useAsteriskRig();

  it('reordered, duplicated packets on the Asterisk leg: the bot hears every caller frame once, in order', async () => {
    rig.emu = await startAriEmulator({ network: { reorder: 0.15, duplicate: 0.05, seed: 7 } });
    const heard: Int16Array[] = [];
    let leg: CallLeg | null = null;
    rig.t = await startTestBackend(
      rig.emu,
      async (l) => {
        leg = l;
        l.on('audio', (f) => heard.push(f));
        await new Promise<void>((resolve) => l.on('hangup', () => resolve()));
      },
      // sender, emulator and bot share one process on a loaded test machine: a deep buffer absorbs the sender's
      // own stalls and catch-up bursts (they would be late or overflow), so only the network's reordering is tested
      { rest: { media: { jitterBufferFrames: 15, jitterMaxFrames: 60 } } },
    );
    const caller = await rig.emu.placeCall();
    await waitFor(() => leg !== null, 3000, 'call up');
    await caller.sendPcm(levelCoded(), { speed: 1 });
    await waitFor(() => frameIds(heard).length >= FRAMES, 6000, 'all frames at the bot');
    const net = rig.emu.mediaEndpoints[0]!.network!.stats;
    expect(net.reordered).toBeGreaterThan(3); // the test compared something
    expect(frameIds(heard)).toEqual(Array.from({ length: FRAMES }, (_, n) => n));
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('music on hold reaches the bot’s leg while a transfer rings, but the bot never hears it as the caller', async () => {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'busy', ringMs: 600 } } });
    const heard: Int16Array[] = [];
    const results: TransferResult[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      leg.on('audio', (f) => heard.push(f));
      results.push(
        await leg.transfer({ target: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 5 }, headers: {} }),
      );
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => results.length === 1, 5000, 'transfer result');
    expect(results[0]!.outcome).toBe('busy');
    // the music really played into the bridge: the caller heard it, and so did the bot's UnicastRTP leg
    expect(caller.audibleMs()).toBeGreaterThanOrEqual(400);
    const media = rig.emu.mediaEndpoints[0]!.stats.sent;
    expect(media).toBeGreaterThan(20);
    // a caller who speaks afterwards is heard again
    await caller.sendPcm(tone(200), { speed: 1 });
    await waitFor(() => heard.filter((f) => peak(f) > 500).length >= 5, 2000, 'caller heard after the hold');
    const mohAtBot = heard.filter((f) => peak(f) > 500 && Math.abs(peak(f) - 8000) > 1000);
    expect(mohAtBot).toHaveLength(0);
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });
});
