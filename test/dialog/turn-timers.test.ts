import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../../src/core/call-events.js';
import { ScriptedAsr, type ToneTts } from '../../src/dialog/scripted.js';
import type { TransferResult } from '../../src/telephony/port.js';
import { startCall, type CallHarness } from './harness.js';

const intents = [{ name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] }];
const GREETING = 'Hi.';

/** The call's state changes with the leg's simulated time at which each happened. */
function timeline(h: CallHarness): Array<{ to: string; cause: string; atMs: number }> {
  const out: Array<{ to: string; cause: string; atMs: number }> = [];
  h.deps.events.subscribe((e: CallEvent) => {
    if (e.type === 'state' && e.callId === h.leg.id) out.push({ to: e.to, cause: e.cause, atMs: h.leg.clockMs });
  });
  return out;
}

const spoken = (h: CallHarness) => (h.deps.tts as ToneTts).spoken;
const ended = (h: CallHarness) => () => h.state() === 'ended';

describe('no-input re-prompt (dialog.noInput)', () => {
  it('re-prompts after timeoutSec of silence with each configured wording, then says goodbye and hangs up', async () => {
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: {
            greeting: GREETING,
            noInput: { timeoutSec: 5, prompts: ['Hello?', 'Are you there?'], goodbye: 'Bye now.' },
          },
        },
      },
    });
    const t = timeline(h);
    await h.leg.pumpUntil(ended(h));
    const record = await h.done;
    expect(spoken(h)).toEqual([GREETING, 'Hello?', 'Are you there?', 'Bye now.']);
    expect(h.states().filter((s) => s.to === 'thinking')).toEqual([
      { from: 'listening', to: 'thinking', cause: 'no input 1/2' },
      { from: 'listening', to: 'thinking', cause: 'no input 2/2' },
      { from: 'listening', to: 'thinking', cause: 'no input: goodbye' },
    ]);
    // each silence is measured from the moment the bot started listening, on the call's clock
    const listens = t.filter((s) => s.to === 'listening').map((s) => s.atMs);
    const silences = t.filter((s) => s.to === 'thinking').map((s) => s.atMs);
    expect(silences).toHaveLength(3);
    silences.forEach((at, i) => expect(at - listens[i]!).toBe(5000));
    expect(h.states().at(-1)).toEqual({ from: 'speaking', to: 'ended', cause: 'no input: goodbye' });
    expect(h.leg.hungUpBy).toBe('bot');
    expect(record.outcome).toBe('abandoned');
    expect(h.clock.pending).toBe(0);
  });

  it('with then: escalate, the last silence hands the caller to a person (reason no-input)', async () => {
    const h = startCall({
      timersFollowAudio: true,
      leg: { transferOutcomes: [{ outcome: 'answered' }] },
      deps: {
        config: { dialog: { greeting: GREETING, noInput: { timeoutSec: 3, prompts: ['Hello?'], then: 'escalate' } } },
      },
    });
    await h.leg.pumpUntil(ended(h));
    const record = await h.done;
    expect(spoken(h).slice(0, 2)).toEqual([GREETING, 'Hello?']);
    expect(h.leg.transfers).toHaveLength(1);
    expect(h.leg.transfers[0]!.target.address).toBe('PJSIP/agent');
    expect(record.escalation).toMatchObject({ reason: 'no-input', outcome: 'answered' });
    expect(record.outcome).toBe('escalated');
  });

  it('the caller speaking or pressing a key restarts the silence clock and the re-prompt count', async () => {
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: { greeting: GREETING, intents, noInput: { timeoutSec: 5, prompts: ['Hello?', 'Still there?'] } },
        },
        asrScript: ['my bill'],
      },
    });
    await h.untilListening();
    await h.leg.pumpUntil(() => spoken(h).length === 2); // first silence: "Hello?"
    await h.untilListening();
    await h.leg.feedSilence(4000);
    h.leg.pressDigit('5'); // a key 4 s into the second silence
    await h.untilListening();
    await h.leg.feedSilence(4000);
    expect(spoken(h)).toEqual([GREETING, 'Hello?']); // the key restarted the clock
    await h.say(600); // the caller speaks: answered
    expect(spoken(h)).toEqual([GREETING, 'Hello?', 'Billing answer.']);
    // a caller talking longer than timeoutSec is not silent
    await h.leg.feedTone(6000);
    await h.leg.feedSilence(1000);
    expect(spoken(h)).toHaveLength(3);
    await h.leg.pumpUntil(() => spoken(h).length === 4);
    // the count started again after the caller spoke: the first wording, not the second
    expect(spoken(h)[3]).toBe('Hello?');
    h.leg.hangupByCaller();
    await h.done;
  });

  it('a re-prompt can be barged into, and the speech that interrupted it is the next turn', async () => {
    const reprompt = 'Hello, are you still there? Please tell me how I can help.';
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: { greeting: GREETING, intents, noInput: { timeoutSec: 2, prompts: [reprompt] } },
          speech: { vad: { interruptionMs: 100 } },
        },
        asrScript: ['about my bill'],
      },
    });
    await h.leg.pumpUntil(() => h.state() === 'speaking' && spoken(h).length === 2);
    await h.leg.feedSilence(500);
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => spoken(h).includes('Billing answer.'));
    expect(h.leg.clears).toHaveLength(1);
    expect(h.states()).toContainEqual({ from: 'speaking', to: 'listening', cause: 'caller barged in' });
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.find((e) => e.text.startsWith('Hello, are'))?.interrupted).toBe(true);
    expect(record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).toEqual(['about my bill']);
  });

  it('timeoutSec 0 turns re-prompts off', async () => {
    const h = startCall({
      timersFollowAudio: true,
      deps: { config: { dialog: { greeting: GREETING, noInput: { timeoutSec: 0 }, maxCall: { durationSec: 0 } } } },
    });
    await h.untilListening();
    await h.leg.feedSilence(60_000);
    expect(spoken(h)).toEqual([GREETING]);
    expect(h.clock.pending).toBe(0);
    h.leg.hangupByCaller();
    await h.done;
  });
});

describe('maximum call duration (dialog.maxCall)', () => {
  it('warns warningSec before the limit, then says goodbye and hangs up at durationSec', async () => {
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: {
            greeting: GREETING,
            noInput: { timeoutSec: 0 },
            maxCall: { durationSec: 30, warningSec: 10, warning: 'Nearly out of time.', goodbye: 'Time is up.' },
          },
        },
      },
    });
    const t = timeline(h);
    await h.leg.pumpUntil(ended(h));
    const record = await h.done;
    expect(spoken(h)).toEqual([GREETING, 'Nearly out of time.', 'Time is up.']);
    const at = (cause: string) => t.find((s) => s.cause === cause)?.atMs;
    expect(at('dialog.maxCall.warningSec before the limit')).toBe(20_000);
    expect(at('dialog.maxCall.durationSec reached')).toBe(30_000);
    expect(h.leg.hungUpBy).toBe('bot');
    expect(record.transcript.map((e) => e.text)).toEqual([GREETING, 'Nearly out of time.', 'Time is up.']);
  });

  it('a limit reached while the bot answers waits for the answer to end, and DTMF meanwhile changes nothing', async () => {
    const reply = 'A long billing answer that takes a good few seconds to say to the caller.';
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: {
            greeting: GREETING,
            intents: [{ name: 'billing', keywords: ['bill'], responses: [reply] }],
            noInput: { timeoutSec: 0 },
            maxCall: { durationSec: 3, warningSec: 0, goodbye: 'Time is up.' },
          },
        },
        asrScript: ['my bill'],
      },
    });
    await h.untilListening();
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => h.state() === 'speaking');
    h.leg.pressDigit('7');
    await h.leg.pumpUntil(ended(h));
    const record = await h.done;
    expect(spoken(h)).toEqual([GREETING, reply, 'Time is up.']);
    expect(record.transcript.find((e) => e.text === reply)?.interrupted).toBeUndefined();
    expect(h.states().map((s) => s.cause)).toContain('dialog.maxCall.durationSec reached');
  });
});

describe('longest caller turn (dialog.maxMonologueSec)', () => {
  it('cuts a caller who talks past the limit and answers what was said so far; the rest is not a turn', async () => {
    const asr = new ScriptedAsr(['a very long story about my bill', 'never used']);
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: { dialog: { greeting: GREETING, intents, noInput: { timeoutSec: 0 }, maxMonologueSec: 3 } },
        asr,
      },
    });
    const t = timeline(h);
    await h.untilListening();
    const speechFrom = h.leg.clockMs;
    await h.leg.feedTone(8000);
    expect(h.states()).toContainEqual({
      from: 'listening',
      to: 'thinking',
      cause: 'caller turn cut at dialog.maxMonologueSec',
    });
    const cutAt = t.find((s) => s.to === 'thinking')!.atMs;
    expect(cutAt - speechFrom).toBeGreaterThanOrEqual(3000);
    expect(cutAt - speechFrom).toBeLessThan(3200);
    // the recogniser got the first ~3 s (plus pre-roll), not the whole 8 s
    expect(asr.heard[0]!.audioMs).toBeLessThan(3300);
    await h.leg.feedSilence(1500);
    await h.untilListening();
    expect(spoken(h)).toEqual([GREETING, 'Billing answer.']);
    expect(asr.calls).toBe(1);
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).toEqual([
      'a very long story about my bill',
    ]);
  });

  it('a caller who barged in and keeps talking is cut too', async () => {
    const asr = new ScriptedAsr(['my bill please']);
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: { greeting: 'Hello there, thank you so much for calling us today.', intents, maxMonologueSec: 2 },
          speech: { vad: { interruptionMs: 100 } },
        },
        asr,
      },
    });
    await h.leg.pumpUntil(() => h.leg.playedSamples > 0);
    await h.leg.feedTone(5000);
    expect(h.leg.clears).toHaveLength(1);
    expect(h.states().map((s) => s.cause)).toContain('caller turn cut at dialog.maxMonologueSec');
    await h.leg.pumpUntil(() => spoken(h).includes('Billing answer.'));
    h.leg.hangupByCaller();
    await h.done;
  });
});

describe('ASR-final grace (dialog.asrFinalGraceMs)', () => {
  it('past the grace, the last partial result is the turn', async () => {
    const asr = new ScriptedAsr([{ text: 'bill', delayMs: 60_000 }], { partials: true });
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: { dialog: { greeting: GREETING, intents, noInput: { timeoutSec: 0 }, asrFinalGraceMs: 2000 } },
        asr,
      },
    });
    const t = timeline(h);
    await h.untilListening();
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => spoken(h).includes('Billing answer.'));
    const grace = t.find((s) => s.cause === 'no final recognition in time: last partial used');
    expect(grace).toBeDefined();
    const speechEnd = h.events('turn').find((e) => e.milestone.step === 'speech-end')!.milestone.atMs;
    expect(grace!.atMs - speechEnd).toBeGreaterThanOrEqual(2000);
    expect(grace!.atMs - speechEnd).toBeLessThan(2100);
    expect(asr.active).toBe(0); // the late recognition was cancelled
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript.filter((e) => e.speaker === 'caller').map((e) => e.text)).toEqual(['bill']);
  });

  it('with no partial the turn is dropped and the silence clock starts again', async () => {
    const asr = new ScriptedAsr([{ text: 'bill', delayMs: 60_000 }]);
    const h = startCall({
      timersFollowAudio: true,
      deps: {
        config: {
          dialog: {
            greeting: GREETING,
            intents,
            noInput: { timeoutSec: 4, prompts: ['Hello?'] },
            asrFinalGraceMs: 1000,
          },
        },
        asr,
      },
    });
    await h.untilListening();
    await h.leg.feedTone(600);
    await h.leg.pumpUntil(() => spoken(h).length === 2);
    expect(spoken(h)).toEqual([GREETING, 'Hello?']);
    expect(h.events('turn').map((e) => e.milestone)).toContainEqual(
      expect.objectContaining({ step: 'discarded', reason: 'asr-timeout' }),
    );
    h.leg.hangupByCaller();
    await h.done;
  });
});

describe('transfer ring timeout (routing target timeoutSec + dialog.transferGraceSec)', () => {
  it('a transfer the backend never answers ends as no-answer on the call clock; the bot keeps the call', async () => {
    const neverAnswers = (_req: unknown, signal?: AbortSignal) =>
      new Promise<TransferResult>((_resolve, reject) =>
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
      );
    const h = startCall({
      leg: { transferOutcomes: neverAnswers },
      deps: {
        config: {
          dialog: {
            greeting: GREETING,
            transferFailed: 'Nobody is free.',
            noInput: { timeoutSec: 0 },
            transferGraceSec: 2,
            routing: { targets: { agent: { address: 'PJSIP/agent', timeoutSec: 5 } } },
          },
        },
      },
    });
    await h.untilListening();
    h.leg.pressDigit('0');
    await h.leg.pumpUntil(() => h.state() === 'transferring');
    h.clock.advance(6999);
    await h.leg.feedSilence(100);
    expect(h.state()).toBe('transferring');
    h.clock.advance(1);
    await h.leg.pumpUntil(() => spoken(h).includes('Nobody is free.'));
    expect(h.states().filter((s) => s.from === 'transferring')).toEqual([
      { from: 'transferring', to: 'speaking', cause: 'ring timeout after 7000 ms' },
    ]);
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.escalation).toMatchObject({ reason: 'dtmf', outcome: 'no-answer' });
    expect(record.outcome).toBe('transfer-failed');
  });
});
