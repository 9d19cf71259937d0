import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallSession } from '../../src/session/store.js';
import { EnergyVadFactory, ScriptedAsr, ToneTts, type MemoryRecordSink } from '../../src/dialog/scripted.js';
import { createLogger } from '../../src/log/logger.js';
import { ChatPeer, waitFor, waitForAsync } from './chat-peer.js';
import { startCall, type CallHarness } from './harness.js';

const intents = [{ name: 'billing', keywords: ['bill'], responses: ['Billing answer.'] }];

function expectReleased(h: CallHarness) {
  expect(h.leg.listenerCounts()).toEqual({ audio: 0, played: 0, dtmf: 0, hangup: 0, detach: 0, 'party-audio': 0 });
  expect(h.leg.playoutWaiters).toBe(0);
  expect((h.deps.vad as EnergyVadFactory).open).toBe(0);
  expect((h.deps.asr as ScriptedAsr).active).toBe(0);
  expect((h.deps.tts as ToneTts).active).toBe(0);
  expect(h.deps.events.listenerCount).toBe(1); // only the test's own recorder is left
}

describe('hangup cancels work in flight and releases everything', () => {
  it('while ASR is recognising', async () => {
    const asr = new ScriptedAsr([{ text: 'my bill', delayMs: 60_000 }]);
    const h = startCall({ deps: { config: { dialog: { intents } }, asr } });
    await h.untilListening();
    await h.leg.feedTone(400);
    await h.leg.feedSilence(400); // speech has ended: ASR is now working on the final result
    await waitFor(() => asr.active === 1);
    const t0 = performance.now();
    h.leg.hangupByCaller('caller went away');
    const record = await h.done;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(asr.remaining).toBe(1);
    expect(record.outcome).toBe('abandoned');
    expect(h.states().at(-1)).toEqual({ from: 'listening', to: 'ended', cause: 'caller hung up: caller went away' });
    expectReleased(h);
  });

  it('while TTS is synthesising', async () => {
    const tts = new ToneTts({ chunkDelayMs: 30_000 });
    const h = startCall({ deps: { tts } });
    await waitFor(() => tts.active === 1);
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.transcript).toHaveLength(1);
    expect(h.states().map((s) => s.to)).toEqual(['greeting', 'ended']);
    expectReleased(h);
  });

  describe('while the LLM is thinking', () => {
    const peer = new ChatPeer();
    beforeAll(() => peer.listen());
    afterAll(() => peer.close());

    it('aborts the HTTP request', async () => {
      peer.handler = peer.hang();
      const h = startCall({
        deps: {
          config: {
            dialog: { intents, llm: { enabled: true, baseUrl: peer.baseUrl, timeoutMs: 20_000, summary: false } },
          },
          asrScript: ['question about my bill'],
        },
      });
      await h.untilListening();
      await h.leg.feedTone(400);
      await h.leg.pumpUntil(() => peer.pending.length === 1);
      expect(h.state()).toBe('thinking');
      h.leg.hangupByCaller();
      await h.done;
      await waitFor(() => peer.abandoned === 1);
      expectReleased(h);
    });

    it('writes the summary with the LLM', async () => {
      peer.handler = (body, req, res) => {
        const content = body.response_format
          ? '{"intent":"billing","confidence":0.9,"reply":"LLM billing reply.","escalate":false,"slots":{}}'
          : 'Caller asked about a bill and got the billing answer.';
        peer.answer(content)(body, req, res);
      };
      const h = startCall({
        deps: {
          config: {
            dialog: {
              intents: [{ name: 'billing', keywords: ['bill'] }],
              llm: { enabled: true, baseUrl: peer.baseUrl },
            },
          },
          asrScript: ['question about my bill'],
        },
      });
      await h.untilListening();
      await h.say(400);
      expect((h.deps.tts as ToneTts).spoken.at(-1)).toBe('LLM billing reply.');
      h.leg.hangupByCaller();
      const record = await h.done;
      expect(record.summary).toBe('Caller asked about a bill and got the billing answer.');
      expect(record.nluConfidence).toBe(0.9);
    });

    it('falls back to the rules mid-call when the LLM times out', async () => {
      peer.handler = peer.hang();
      const h = startCall({
        deps: {
          config: {
            dialog: { intents, llm: { enabled: true, baseUrl: peer.baseUrl, timeoutMs: 150, summary: false } },
          },
          asrScript: ['question about my bill'],
        },
      });
      await h.untilListening();
      await h.say(400);
      expect((h.deps.tts as ToneTts).spoken.at(-1)).toBe('Billing answer.');
      h.leg.hangupByCaller();
      const record = await h.done;
      expect(record.intent).toBe('billing');
    });
  });

  it('writes an extractive summary without an LLM', async () => {
    const h = startCall({
      deps: { config: { dialog: { intents } }, asrScript: ['bill'] },
    });
    await h.untilListening();
    await h.say(400);
    h.leg.hangupByCaller();
    const record = await h.done;
    // no LLM configured: extractive summary with intent and the caller's words
    expect(record.summary).toBe('Intent: billing. Caller said: "bill"');
  });

  it('after a normal call', async () => {
    const h = startCall({ deps: { config: { dialog: { intents } }, asrScript: ['bill'] } });
    await h.untilListening();
    await h.say(400);
    h.leg.hangupByCaller();
    await h.done;
    expectReleased(h);
  });
});

describe('call lifecycle', () => {
  it('logs every transition on the call logger and publishes it', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const logger = createLogger({ level: 'info', format: 'json', redactPhoneNumbers: false }, sink);
    const h = startCall({ deps: { logger, config: { dialog: { intents } }, asrScript: ['bill'] } });
    await h.untilListening();
    await h.say(400);
    h.leg.hangupByCaller();
    await h.done;
    const logged = lines.filter((l) => l.msg === 'state').map((l) => `${String(l.from)}>${String(l.to)}`);
    const published = h.states().map((s) => `${String(s.from)}>${s.to}`);
    expect(published).toEqual([
      'null>greeting',
      'greeting>listening',
      'listening>thinking',
      'thinking>speaking',
      'speaking>listening',
      'listening>ended',
    ]);
    expect(logged).toEqual(published);
    expect(lines.filter((l) => l.msg === 'state').every((l) => l.callId === h.leg.id)).toBe(true);
  });

  it('keeps the session in the store during the call (with backend data) and removes it at the end', async () => {
    const h = startCall({ deps: { config: { dialog: { intents } }, asrScript: ['bill'] } });
    const backendSession: CallSession = {
      version: 1,
      callId: h.leg.id,
      backend: 'memory',
      state: 'greeting',
      phone: h.leg.from,
      startedAt: new Date().toISOString(),
      backendData: { bridgeId: 'b-1' },
      dialog: {},
      updatedAt: new Date().toISOString(),
    };
    await h.deps.sessions.put(backendSession);
    await h.untilListening();
    await h.say(400);
    let saved: CallSession | undefined;
    await waitForAsync(async () => {
      saved = await h.deps.sessions.get(h.leg.id);
      return saved?.state === 'listening' && saved.dialog.answeredTurns === 1;
    });
    expect(saved?.backendData).toEqual({ bridgeId: 'b-1' });
    expect(saved?.dialog).toMatchObject({ intent: 'billing', answeredTurns: 1 });
    h.leg.hangupByCaller();
    await h.done;
    expect(await h.deps.sessions.get(h.leg.id)).toBeUndefined();
  });

  it('shutdown (outer signal) ends the call from the bot side', async () => {
    const ac = new AbortController();
    const h = startCall({ signal: ac.signal });
    await h.untilListening();
    ac.abort();
    const record = await h.done;
    expect(h.leg.hungUpBy).toBe('bot');
    expect(h.states().at(-1)).toMatchObject({ from: 'listening', to: 'ended', cause: 'shutdown' });
    expect(record.outcome).toBe('abandoned');
    expectReleased(h);
  });

  it('an internal failure ends that call only, with outcome error', async () => {
    const vad = new EnergyVadFactory();
    vad.create = () => {
      throw new Error('model file missing');
    };
    const h = startCall({ deps: { vad } });
    const record = await h.done;
    expect(record.outcome).toBe('error');
    expect(h.leg.hungUpBy).toBe('bot');
    expect(h.states().at(-1)).toMatchObject({ to: 'ended', cause: 'model file missing' });
    expect((h.deps.records as MemoryRecordSink).of('end')).toHaveLength(1);
  });

  it('one failing call does not affect another running on the same deps', async () => {
    const good = startCall({ deps: { config: { dialog: { intents } }, asrScript: ['bill'] } });
    await good.untilListening();
    // a second call on the same bus, metrics and stores whose leg breaks on transfer
    const { MemoryLeg } = await import('../../src/dialog/testing/memory-leg.js');
    const { runCall } = await import('../../src/dialog/call-core.js');
    const badLeg = new MemoryLeg({
      transferOutcomes: () => Promise.reject(new Error('backend exploded')),
    });
    const bad = runCall(badLeg, good.deps);
    badLeg.pressDigit('0');
    await badLeg.pumpUntil(() => badLeg.transfers.length === 1);
    const transferFailed = good.deps.config.dialog.transferFailed;
    await badLeg.pumpUntil(
      () => badLeg.queuedSamples === 0 && (good.deps.tts as ToneTts).spoken.includes(transferFailed),
    );
    badLeg.hangupByCaller();
    const badRecord = await bad;
    expect(badRecord.escalation?.outcome).toBe('failed');
    expect(badRecord.outcome).toBe('transfer-failed');

    await good.say(400);
    expect((good.deps.tts as ToneTts).spoken.at(-1)).toBe('Billing answer.');
    good.leg.hangupByCaller();
    const goodRecord = await good.done;
    expect(goodRecord.outcome).toBe('resolved');
    expect(goodRecord.transcript.every((e) => !e.text.includes('DTMF'))).toBe(true);
    expect(good.states().map((s) => s.to)).toEqual([
      'greeting',
      'listening',
      'thinking',
      'speaking',
      'listening',
      'ended',
    ]);
  });

  it('survives an ASR error and a TTS error, and works on 16 kHz legs', async () => {
    const h = startCall({
      leg: { inputSampleRate: 16000, outputSampleRate: 16000 },
      deps: {
        config: { dialog: { intents: [...intents, { name: 'x', keywords: ['boom'], responses: ['BOOM reply'] }] } },
        asrScript: [{ text: '', error: 'decoder crashed' }, 'boom', 'bill'],
        tts: new ToneTts({ failOn: 'BOOM' }),
      },
    });
    await h.untilListening();
    await h.leg.feedTone(400);
    await h.leg.feedSilence(600); // the failed utterance: no turn
    expect(h.states().filter((s) => s.to === 'thinking')).toHaveLength(0);
    await h.say(400); // "boom": its reply fails in TTS, the call goes on
    await h.say(400);
    expect((h.deps.tts as ToneTts).spoken.at(-1)).toBe('Billing answer.');
    h.leg.hangupByCaller();
    const record = await h.done;
    expect(record.outcome).toBe('resolved');
    expect(h.leg.playedSamples).toBeGreaterThan(16000); // greeting at 16 kHz
  });
});
