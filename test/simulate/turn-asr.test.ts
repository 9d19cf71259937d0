import { describe, expect, it } from 'vitest';
import { ScriptedAsr } from '../../src/dialog/scripted.js';
import type { AsrResult } from '../../src/speech/types.js';
import { TurnAsr } from '../../src/telephony/simulate/turn-asr.js';

async function* audio(ms: number): AsyncIterable<Int16Array> {
  for (let i = 0; i < ms / 20; i++) yield new Int16Array(320);
}

async function finalOf(results: AsyncIterable<AsrResult>): Promise<AsrResult> {
  let final: AsrResult | undefined;
  for await (const r of results) if (r.final) final = r;
  if (!final) throw new Error('no final result');
  return final;
}

describe('TurnAsr', () => {
  it('injects the text into the turn’s last utterance only; earlier and later ones are recognised', async () => {
    const inner = new ScriptedAsr(['a pause split the turn', 'one more']);
    let pending = true;
    const asr = new TurnAsr(inner, { callerAudioPending: () => pending });
    asr.setTurn(0, { mode: 'inject', text: 'typed words' });
    expect((await finalOf(asr.transcribe(audio(400)))).text).toBe('a pause split the turn');
    pending = false;
    const injected = await finalOf(asr.transcribe(audio(600)));
    expect(injected).toMatchObject({ text: 'typed words', confidence: 1 });
    expect(injected.timings.audioMs).toBe(600);
    expect((await finalOf(asr.transcribe(audio(200)))).text).toBe('one more');
    expect(asr.results.map((r) => r.source)).toEqual(['asr', 'injected', 'asr']);
    expect(inner.calls).toBe(2);
  });

  it('substitutes the reference text after running the recogniser, keeping what it heard', async () => {
    const inner = new ScriptedAsr([{ text: '', confidence: 0.1 }]);
    const asr = new TurnAsr(inner);
    asr.setTurn(3, { mode: 'substitute', text: 'the reference' });
    const final = await finalOf(asr.transcribe(audio(1000)));
    expect(final.text).toBe('the reference');
    expect(asr.results[0]).toMatchObject({ turn: 3, source: 'substituted', recognised: '', confidence: 0.1 });
    expect(inner.heard[0]!.audioMs).toBe(1000);
  });

  it('is busy from the end of an utterance until its final result', async () => {
    const inner = new ScriptedAsr([{ text: 'slow', delayMs: 50 }]);
    const asr = new TurnAsr(inner);
    const seen: boolean[] = [];
    const off = asr.onActivity(() => seen.push(asr.busy()));
    expect(asr.busy()).toBe(false);
    await finalOf(asr.transcribe(audio(100)));
    off();
    expect(seen).toEqual([true, false]);
    expect(asr.busy()).toBe(false);
    expect(asr.results[0]!.finalAfterEndMs).toBeGreaterThanOrEqual(40);
  });
});
