import { describe, expect, it } from 'vitest';
import { runCall } from '../../src/dialog/call-core.js';
import { createTestDeps, ScriptedAsr } from '../../src/dialog/scripted.js';
import { runSimulatedCall, SimulationError } from '../../src/telephony/simulate/driver.js';
import type { CallRecord } from '../../src/core/call-record.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { SimulatedCallLeg, type TickResult } from '../../src/telephony/simulate/simulated-leg.js';
import { TurnAsr } from '../../src/telephony/simulate/turn-asr.js';

/** 8 kHz tone the energy VAD double hears as speech. */
const tone = (ms: number) =>
  Int16Array.from({ length: (8000 * ms) / 1000 }, (_, i) =>
    Math.round(6000 * Math.sin((2 * Math.PI * 250 * i) / 8000)),
  );

describe('simulated call driver (real call core, scripted ASR, tone TTS, energy VAD)', () => {
  it('plays turns only after the bot has finished speaking, in accelerated time', async () => {
    const deps = createTestDeps({ asrScript: ['hello there', 'I want to talk to a person'] });
    const leg = new SimulatedCallLeg();
    const ticks: TickResult[] = [];
    const started = performance.now();
    const result = await runSimulatedCall({
      leg,
      events: deps.events,
      turns: [
        { pcm8k: tone(800), label: 'first' },
        { pcm8k: tone(1200), label: 'second' },
      ],
      run: (l, signal) => runCall(l, deps, signal),
      onTick: (t) => ticks.push(t),
    });
    const wallMs = performance.now() - started;

    // causality: no caller frame while bot audio is still playing
    const firstCaller = ticks.findIndex((t) => t.caller !== null);
    const botTicks = ticks.filter((t) => t.botSamples > 0).map((t) => t.tick);
    expect(botTicks[0]).toBe(0); // greeting starts the call
    expect(ticks.slice(0, firstCaller).some((t) => t.botSamples > 0)).toBe(true);
    for (const t of ticks) if (t.caller) expect(t.botSamples).toBe(0);

    expect(result.turns).toEqual([
      { label: 'first', botReacted: true },
      { label: 'second', botReacted: true },
    ]);
    const caller = result.record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text);
    expect(caller).toEqual(['hello there', 'I want to talk to a person']);
    expect(result.record.outcome).toBe('escalated');
    expect(leg.transfers).toHaveLength(1);
    // accelerated: line time well beyond wall time spent
    expect(result.lineMs).toBeGreaterThan(3000);
    expect(wallMs).toBeLessThan(result.lineMs);
    expect(result.botAudio.length).toBe(ticks.length * 160);
    expect(result.botAudio.some((s) => s !== 0)).toBe(true);
  });

  it('injects text turns past the recogniser and records every final ASR result', async () => {
    const inner = new ScriptedAsr(['from the recogniser']);
    const leg = new SimulatedCallLeg();
    const asr = new TurnAsr(inner, { callerAudioPending: () => leg.callerQueuedFrames > 0 });
    const deps = createTestDeps({ asr });
    const plans = [{ mode: 'asr' as const }, { mode: 'inject' as const, text: 'typed words' }];
    const result = await runSimulatedCall({
      leg,
      events: deps.events,
      turns: [
        { pcm8k: tone(600), label: 'wav' },
        { pcm8k: tone(600), label: 'text' },
      ],
      run: (l, signal) => runCall(l, deps, signal),
      recogniser: asr,
      beforeTurn: (i) => asr.setTurn(i, plans[i]!),
    });
    expect(asr.results.map((r) => [r.turn, r.source, r.text])).toEqual([
      [0, 'asr', 'from the recogniser'],
      [1, 'injected', 'typed words'],
    ]);
    expect(inner.calls).toBe(1);
    expect(asr.results[1]!.timings.audioMs).toBeGreaterThan(300);
    const caller = result.record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text);
    expect(caller).toEqual(['from the recogniser', 'typed words']);
  });

  it('moves on when a turn holds no speech, and hangs up at the end', async () => {
    const deps = createTestDeps({ asrScript: [] });
    const leg = new SimulatedCallLeg();
    const hangups: string[] = [];
    leg.on('hangup', (r) => hangups.push(r));
    const result = await runSimulatedCall({
      leg,
      events: deps.events,
      turns: [{ pcm8k: new Int16Array(8000), label: 'silence' }],
      run: (l, signal) => runCall(l, deps, signal),
      maxTrailingSilenceMs: 1000,
    });
    expect(result.turns).toEqual([{ label: 'silence', botReacted: false }]);
    expect(hangups).toEqual(['caller-hangup']);
    expect(result.record.outcome).not.toBe('error');
    expect(deps.events.listenerCount).toBe(1); // only createTestDeps' own recorder is left
  });

  it('gives up on a bot that never gets to listening, and still hangs up and releases the call', async () => {
    const deps = createTestDeps();
    const leg = new SimulatedCallLeg();
    let hungUp = false;
    const silentCore = (l: CallLeg) =>
      new Promise<CallRecord>((resolve) =>
        l.on('hangup', () => {
          hungUp = true;
          resolve({ callId: l.id } as CallRecord);
        }),
      );
    await expect(
      runSimulatedCall({
        leg,
        events: deps.events,
        turns: [{ pcm8k: tone(400), label: 'never heard' }],
        run: silentCore,
        idleTimeoutMs: 200,
      }),
    ).rejects.toThrow(SimulationError);
    expect(hungUp).toBe(true);
    expect(deps.events.listenerCount).toBe(1); // createTestDeps' own recorder
  });
});
