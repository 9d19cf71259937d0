import { describe, expect, it } from 'vitest';
import { mulawDecode, mulawEncode } from '../../src/media/g711.js';
import { SimulatedCallLeg, SIM_FRAME_SAMPLES } from '../../src/telephony/simulate/simulated-leg.js';

const ramp = (n: number) => Int16Array.from({ length: n }, (_, i) => ((i * 211) % 20000) - 10000);

describe('SimulatedCallLeg', () => {
  it('is an 8 kHz telephone leg', () => {
    const leg = new SimulatedCallLeg();
    expect(leg.inputSampleRate).toBe(8000);
    expect(leg.outputSampleRate).toBe(8000);
    expect(leg.backend).toBe('simulate');
  });

  it('sends queued caller audio through μ-law, one 20 ms frame per tick, then line silence', () => {
    const leg = new SimulatedCallLeg();
    const frames: Int16Array[] = [];
    leg.on('audio', (f) => frames.push(f));
    const speech = ramp(400); // 2.5 frames
    leg.queueCallerAudio(speech, 0);
    expect(leg.callerQueuedFrames).toBe(3);
    const tags = [leg.tick(), leg.tick(), leg.tick(), leg.tick()].map((t) => t.caller);
    expect(tags).toEqual([{ turn: 0, frame: 0 }, { turn: 0, frame: 1 }, { turn: 0, frame: 2 }, null]);
    expect(frames.map((f) => f.length)).toEqual([160, 160, 160, 160]);
    const line = mulawDecode(mulawEncode(speech));
    expect([...frames[0]!, ...frames[1]!, ...frames[2]!.subarray(0, 80)]).toEqual([...line]);
    expect(frames[2]!.subarray(80).every((s) => s === 0)).toBe(true); // padded
    expect(frames[3]!.every((s) => s === 0)).toBe(true); // nothing queued: silence
  });

  it('plays bot audio one frame per tick into its recording and resolves playout when drained', async () => {
    const leg = new SimulatedCallLeg();
    leg.sendAudio(ramp(400));
    let drained = false;
    const playout = leg.waitForPlayout().then(() => (drained = true));
    expect(leg.tick().botSamples).toBe(160);
    expect(leg.tick().botSamples).toBe(160);
    await Promise.resolve();
    expect(drained).toBe(false);
    expect(leg.tick().botSamples).toBe(80);
    await playout;
    expect(leg.tick().botSamples).toBe(0);
    const heard = leg.recording();
    expect(heard.length).toBe(4 * SIM_FRAME_SAMPLES);
    expect([...heard.subarray(0, 400)]).toEqual([...mulawDecode(mulawEncode(ramp(400)))]);
    expect(heard.subarray(400).every((s) => s === 0)).toBe(true);
  });

  it('clearAudio drops the queue, reports what was never played and wakes playout waiters', async () => {
    const leg = new SimulatedCallLeg();
    leg.sendAudio(new Int16Array(8000));
    leg.tick();
    const waiting = leg.waitForPlayout();
    expect(leg.clearAudio()).toBe(8000 - 160);
    await waiting;
    expect(leg.botQueuedSamples).toBe(0);
  });

  it('instant playout plays the first frame on its tick and the rest of the queue at once', () => {
    const leg = new SimulatedCallLeg({ instantPlayout: true });
    leg.sendAudio(new Int16Array(1000).fill(1000));
    expect(leg.tick().botSamples).toBe(1000);
    expect(leg.botQueuedSamples).toBe(0);
  });

  it('a caller hangup fires once and stops the line', async () => {
    const leg = new SimulatedCallLeg();
    const reasons: string[] = [];
    let frames = 0;
    leg.on('hangup', (r) => reasons.push(r));
    leg.on('audio', () => frames++);
    leg.sendAudio(new Int16Array(8000));
    const playout = leg.waitForPlayout();
    leg.callerHangup();
    leg.callerHangup('again');
    await playout;
    leg.tick();
    expect(reasons).toEqual(['caller-hangup']);
    expect(frames).toBe(0);
    expect(leg.ended).toBe(true);
  });

  it('records transfers and reports the configured outcome', async () => {
    const leg = new SimulatedCallLeg({ transferOutcome: 'busy' });
    const result = await leg.transfer({
      target: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 30 },
      headers: { 'X-Voicebot-Intent': 'billing' },
    });
    expect(result.outcome).toBe('busy');
    expect(leg.transfers[0]!.headers['X-Voicebot-Intent']).toBe('billing');
  });
});
