import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, tone, waitFor, type Harness } from './harness.js';

/**
 * The media server's playout (mod_audio_fork, reproduced by the emulator): block pre-buffering that holds a short
 * tail, killAudio that leaves the pre-buffer, marks that ride on the next binary frame as a −1 sample.
 */
let h: Harness;
afterEach(async () => {
  await h?.close();
});

const constant = (ms: number, rate: number, value: number) => new Int16Array((rate * ms) / 1000).fill(value);
const count = (pcm: Int16Array, value: number) => pcm.reduce((n, s) => n + (s === value ? 1 : 0), 0);

describe.each([8000, 16000] as const)('jambonz playout at %i Hz', (rate) => {
  it('the whole prompt is heard before waitForPlayout resolves, though the media server holds a sub-block tail', async () => {
    h = await startHarness({ sampleRate: rate });
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    // 330 ms: after whole blocks a tail shorter than a block is left in the pre-buffer.
    const prompt = constant(330, rate, 1111);
    leg.sendAudio(prompt);
    await leg.waitForPlayout(AbortSignal.timeout(5000));
    expect(count(call.heard(), 1111)).toBe(prompt.length);
  });
});

describe('jambonz barge-in', () => {
  it('after barge-in the next prompt starts without the interrupted audio held in the pre-buffer', async () => {
    const rate = 8000;
    h = await startHarness({ sampleRate: rate });
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    leg.sendAudio(tone(2000, rate, 440, 8000));
    // Interrupt while at least two frames of it wait in the media server's pre-buffer (8 kHz: blocks of 80 ms).
    await waitFor(() => call.heard().length > rate / 5 && call.heldSamples >= (rate / 50) * 2, 5000, 'pre-buffered');
    const clearedAt = performance.now();
    leg.clearAudio();
    const next = constant(300, rate, 1234);
    leg.sendAudio(next);
    await leg.waitForPlayout(AbortSignal.timeout(5000));
    const after = call.heardChunks().filter((c) => c.at > clearedAt);
    const stale = after.reduce((n, c) => n + c.pcm.filter((s) => s !== 1234 && s !== 0).length, 0);
    // killAudio takes effect at the media server's next 20 ms frame: at most that one frame of the old prompt.
    expect(stale).toBeLessThanOrEqual(rate / 50);
    expect(count(call.heard(), 1234)).toBe(next.length);
  });
  it('a barge-in before the first block plays (16 kHz stream on an 8 kHz call: a 160 ms block) leaves none of it in front of the next prompt', async () => {
    const rate = 16000;
    h = await startHarness({ sampleRate: rate });
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    const first = tone(60, rate, 440, 8000);
    leg.sendAudio(first);
    // all of it held: the media server moves audio to playout in blocks of 2560 samples (160 ms) at first
    await waitFor(() => call.heldSamples >= first.length, 5000, 'pre-buffered');
    leg.clearAudio();
    const next = constant(300, rate, 1234);
    leg.sendAudio(next);
    await leg.waitForPlayout(AbortSignal.timeout(5000));
    const stale = call.heard().filter((s) => s !== 1234 && s !== 0).length;
    // killAudio takes effect at the media server's next 20 ms frame: at most that one frame of the old prompt
    expect(stale).toBeLessThanOrEqual(rate / 50);
    expect(count(call.heard(), 1234)).toBe(next.length);
  });
});

describe('jambonz marks', () => {
  it('int16 −1 samples in the bot audio never report a pending mark early', async () => {
    h = await startHarness({ sampleRate: 8000 });
    const emu = await h.emulator({ mode: 'ws' });
    const { call, leg } = await h.callIn(emu, { from: '1', to: '2' });
    // A quiet prompt of exact −1 samples (what 0xFFFF markers look like), then the next one right behind it,
    // so the first prompt's mark rides on the second prompt's first frame while the first is still playing.
    const first = constant(600, 8000, -1);
    leg.sendAudio(first);
    let heardAtMark = -1;
    const played = leg.waitForPlayout(AbortSignal.timeout(5000)).then(() => (heardAtMark = call.heard().length));
    leg.sendAudio(tone(400, 8000));
    await played;
    expect(heardAtMark).toBeGreaterThanOrEqual(first.length);
    await leg.waitForPlayout(AbortSignal.timeout(5000));
  });
});
