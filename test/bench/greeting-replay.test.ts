import { describe, expect, it } from 'vitest';
import { echoConfig } from '../../src/speech/echo/config.js';
import { replayGreetings } from '../../bench/lib/greeting-replay.js';

/** The offline replay docs/barge-in.md quotes (bench/greeting-replay.ts): it runs, and counts every greeting once. */
describe('greeting replay', () => {
  const echo = echoConfig.parse({});

  it('counts each caller once: heard (with a latency) or missed, and late only when heard after 300 ms', () => {
    const greetings = 4;
    const { latencies, late, missed } = replayGreetings({ delayMs: 300, erlDb: 6, greetings, echo });
    expect(latencies.length + missed.length).toBe(greetings);
    expect(latencies.every((ms) => ms >= 0)).toBe(true);
    expect(late.length).toBe(latencies.filter((ms) => ms > 300).length);
    for (const i of late) expect(missed).not.toContain(i);
  }, 30_000);

  it('the echo alone on a 20 ms / 6 dB line gives no cue and reaches the VAD nowhere for 40 ms', () => {
    const { cued, leaked } = replayGreetings({ delayMs: 20, erlDb: 6, greetings: 3, echo, noCaller: true });
    expect(cued).toEqual([]);
    expect(leaked).toEqual([]);
  }, 30_000);

  it('with the echo handling off, that echo reaches the VAD in every greeting: the replay can fail', () => {
    const off = echoConfig.parse({ enabled: false });
    const { leaked } = replayGreetings({ delayMs: 20, erlDb: 6, greetings: 3, echo: off, noCaller: true });
    expect(leaked).toEqual([0, 1, 2]);
  }, 30_000);
});
