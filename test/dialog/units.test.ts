import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../../src/core/async-queue.js';
import { PromptPlayer, ESTIMATED_MS_PER_CHAR } from '../../src/dialog/prompt-player.js';
import { ScriptedAsr, ScriptedVadFactory, ToneTts } from '../../src/dialog/scripted.js';
import { MemoryLeg } from '../../src/dialog/testing/memory-leg.js';
import { extractiveSummary } from '../../src/dialog/summary.js';
import { interruptedText, playedPrefix } from '../../src/dialog/transcript.js';
import { createLogger } from '../../src/log/logger.js';
import { waitFor } from './chat-peer.js';
import { startCall } from './harness.js';

const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });

describe('played prefix', () => {
  const text = 'one two three four'; // 18 chars
  it.each([
    [0, ''],
    [0.1, ''],
    [3 / 18, 'one'],
    [0.5, 'one two'],
    [13 / 18, 'one two three'],
    [1, 'one two three four'],
    [1.7, 'one two three four'],
  ])('fraction %d → "%s"', (fraction, expected) => {
    expect(playedPrefix(text, fraction)).toBe(expected);
  });
  it('marks the cut', () => {
    expect(interruptedText(text, 0.5)).toBe('one two … [interrupted]');
    expect(interruptedText(text, 0)).toBe('… [interrupted]');
  });
});

describe('AsyncQueue', () => {
  it('delivers in order, ends, and rejects a waiting reader on abort without leaking the listener', async () => {
    const q = new AsyncQueue<number>();
    q.push(1);
    q.push(2);
    expect(await q.next()).toEqual({ value: 1, done: false });
    const ac = new AbortController();
    const second = await q.next(ac.signal);
    expect(second.value).toBe(2);
    const waiting = q.next(ac.signal);
    ac.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    q.push(3);
    q.end();
    const seen: number[] = [];
    for await (const v of q) seen.push(v);
    expect(seen).toEqual([3]);
  });
  it('fail() rejects the reader', async () => {
    const q = new AsyncQueue<number>();
    const p = q.next();
    q.fail(new Error('broken'));
    await expect(p).rejects.toThrow('broken');
  });
});

describe('PromptPlayer and its speech handles', () => {
  it('estimates the heard share from the text when barge-in comes before TTS has finished', async () => {
    const leg = new MemoryLeg({ outputSampleRate: 8000 });
    const tts = new ToneTts({ chunkMs: 100, chunkDelayMs: 1, msPerChar: ESTIMATED_MS_PER_CHAR });
    const player = new PromptPlayer(leg, tts, logger);
    const text = 'a fairly long prompt that takes several seconds to synthesise and play out';
    const ac = new AbortController();
    const handle = player.say(text, { allowInterruptions: true, signal: ac.signal });
    expect(player.current).toBe(handle);
    await waitFor(() => leg.queuedSamples >= 1600); // two chunks queued, synthesis still running
    leg.advance(100); // the caller hears 100 ms
    expect(player.interrupt()).toBe(true);
    expect(handle.interrupted).toBe(true);
    const result = await handle.done;
    const expected = 800 / ((text.length * ESTIMATED_MS_PER_CHAR * 8000) / 1000);
    expect(result.interruptedAt).toBeCloseTo(expected, 5);
    expect(tts.active).toBe(0);
    expect(player.current).toBeNull();
    expect(player.interrupt()).toBe(false);
    expect(handle.interrupt()).toBe(false);
  });

  it('says what was heard and what is left, word by word', async () => {
    const leg = new MemoryLeg({ outputSampleRate: 8000 });
    const text = 'one two three four five six seven eight';
    const player = new PromptPlayer(leg, new ToneTts({ msPerChar: 40 }), logger);
    const handle = player.say(text, { allowInterruptions: true, signal: new AbortController().signal });
    expect(handle.heard()).toBe('');
    expect(handle.rest()).toBe(text);
    await waitFor(() => leg.queuedSamples >= text.length * 40 * 8); // all synthesised, nothing played
    leg.advance(text.indexOf(' five') * 40); // played exactly up to the end of "four"
    expect(handle.interrupt()).toBe(true);
    await handle.done;
    expect(handle.heard()).toBe('one two three four');
    expect(handle.rest()).toBe('five six seven eight');

    const whole = player.say('all of it', { allowInterruptions: true, signal: new AbortController().signal });
    await waitFor(() => leg.queuedSamples > 0);
    await leg.pumpUntil(() => !whole.playing);
    expect((await whole.done).interruptedAt).toBeUndefined();
    expect(whole.heard()).toBe('all of it');
    expect(whole.rest()).toBe('');
  });

  it('will not interrupt a no-barge-in prompt unless forced', async () => {
    const leg = new MemoryLeg();
    const player = new PromptPlayer(leg, new ToneTts(), logger);
    const ac = new AbortController();
    const handle = player.say('legal notice here', { allowInterruptions: false, signal: ac.signal });
    await waitFor(() => leg.queuedSamples > 0);
    expect(player.interrupt()).toBe(false);
    expect(handle.interrupt(true)).toBe(true);
    expect((await handle.done).interruptedAt).toBe(0);
  });

  it('a high-priority prompt takes over from a normal one; a normal one never cuts a high one short', async () => {
    const leg = new MemoryLeg();
    const player = new PromptPlayer(leg, new ToneTts(), logger);
    const signal = new AbortController().signal;
    const normal = player.say('a normal reply that is long enough', { allowInterruptions: true, signal });
    await waitFor(() => leg.queuedSamples > 0);
    const high = player.say('this call is recorded', { allowInterruptions: false, priority: 'high', signal });
    expect(normal.interrupted).toBe(true);
    expect(leg.clears).toHaveLength(1);
    expect(player.current).toBe(high);
    expect(() => player.say('another reply', { allowInterruptions: true, signal })).toThrow(/one prompt at a time/);
    expect(high.playing).toBe(true);
    await leg.pumpUntil(() => !high.playing);
    expect((await high.done).interruptedAt).toBeUndefined();
  });
});

describe('extractive summary', () => {
  it('names the intent and slots and quotes the key caller sentences', () => {
    const s = extractiveSummary({
      intent: 'order_status',
      slots: { order_number: '1234' },
      escalationReason: 'caller-request',
      transcript: [
        { speaker: 'bot', text: 'Hello', atMs: 0 },
        { speaker: 'caller', text: 'hi', atMs: 1 },
        { speaker: 'caller', text: 'my order 1234 never arrived', atMs: 2 },
        { speaker: 'caller', text: '[DTMF 5]', atMs: 3 },
      ],
    });
    expect(s).toBe(
      'Intent: order status (order number 1234). Escalated: caller-request. Caller said: "hi" "my order 1234 never arrived"',
    );
  });
});

describe('partial results', () => {
  it('are published as partial caller transcript events', async () => {
    const h = startCall({ deps: { asr: new ScriptedAsr(['where is my order'], { partials: true }) } });
    await h.untilListening();
    await h.say(400);
    expect(
      h
        .events('transcript')
        .filter((e) => e.partial && e.entry.speaker === 'caller')
        .map((e) => e.entry.text),
    ).toEqual(['where']);
    h.leg.hangupByCaller();
    await h.done;
  });
});

describe('ScriptedVadFactory', () => {
  it('drives turns from injected events', async () => {
    const vad = new ScriptedVadFactory();
    const h = startCall({ deps: { vad, asrScript: ['hello'] } });
    await h.untilListening();
    const v = vad.created[0]!;
    v.emit({ type: 'speechStart', atMs: 0 });
    h.leg.feed(new Int16Array(160));
    v.emit({ type: 'speechEnd', atMs: 400, startMs: 0, endMs: 400, audio: new Int16Array(6400) });
    await h.leg.pumpUntil(() => h.states().some((s) => s.to === 'thinking'));
    await h.untilListening();
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.find((e) => e.speaker === 'caller')?.text).toBe('hello');
    expect(v.closed).toBe(true);
  });
});
