import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/core/call-record.js';
import { ToneTts, type ScriptedUtterance } from '../../src/dialog/scripted.js';
import { asteriskDriver } from './asterisk-driver.js';
import type { BackendDriver, DriverSession } from './driver.js';
import { jambonzDriver } from './jambonz-driver.js';
import { untilListening, untilTurns, waitFor } from './wait.js';
import { clip } from '../helpers/fixtures.js';

/**
 * One set of cases, every backend: the same caller audio must give the same transcript, CallRecord (modulo
 * backend-specific fields) and escalation; hangup must release everything; a malformed frame is counted and dropped.
 */
const DRIVERS: BackendDriver[] = [asteriskDriver(), jambonzDriver('webhook', 16000), jambonzDriver('ws', 8000)];

const WAV = clip('librispeech-test-clean-2830-3980-0043.wav');

function dialogFor(driver: BackendDriver) {
  return {
    greeting: 'Hello there.',
    clarify: 'Sorry?',
    transferMessage: 'Putting you through.',
    goodbye: 'Bye.',
    intents: [{ name: 'billing', keywords: ['invoice'], responses: ['Billing answer.'] }],
    routing: { default: 'agent', targets: { agent: { ...driver.agentTarget, timeoutSec: 10 } } },
  };
}

/** What must agree across backends: the record without ids, clocks and backend names. */
function portable(record: CallRecord) {
  return {
    phone: record.phone,
    direction: record.direction,
    outcome: record.outcome,
    intent: record.intent,
    slots: record.slots,
    asrConfidence: record.asrConfidence,
    nluConfidence: record.nluConfidence,
    summary: record.summary,
    transcript: record.transcript.map((e) => `${e.speaker}${e.interrupted ? '(cut)' : ''}: ${e.text}`),
    escalation: record.escalation ? { ...record.escalation, atMs: 0 } : undefined,
  };
}

function audibleMs(pcm: Int16Array, rate: number): number {
  const frame = rate / 50;
  let frames = 0;
  for (let i = 0; i + frame <= pcm.length; i += frame) {
    let peak = 0;
    for (let k = i; k < i + frame; k++) peak = Math.max(peak, Math.abs(pcm[k]!));
    if (peak > 500) frames++;
  }
  return frames * 20;
}

const results = new Map<string, Map<string, ReturnType<typeof portable>>>();

describe.each(DRIVERS)('conformance: $name', (driver) => {
  let session: DriverSession | null = null;
  const seen = (name: string, record: CallRecord) => {
    const byCase = results.get(name) ?? new Map();
    byCase.set(driver.name, portable(record));
    results.set(name, byCase);
  };
  async function start(script: ScriptedUtterance[], agent: 'answer' | 'busy' = 'answer') {
    session = await driver.start({
      agent,
      deps: { config: { dialog: dialogFor(driver) }, asrScript: script, tts: new ToneTts({ msPerChar: 10 }) },
    });
    return session;
  }
  afterEach(async () => {
    if (!session) return;
    const s = session;
    session = null;
    // Every case ends with the call over: nothing may be left behind.
    let left: string[] = [];
    try {
      const deadline = Date.now() + 5000;
      do {
        left = await s.leftovers();
        if (left.length === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      } while (Date.now() < deadline);
    } finally {
      await s.stop();
    }
    expect(left).toEqual([]);
  });

  it('caller audio gives the transcript and record', async () => {
    const s = await start([{ text: 'I have a question about my invoice', confidence: 0.8 }]);
    const call = await s.startCall(WAV);
    await untilTurns(s.deps, call.id, 1);
    await call.hangup();
    const record = await call.record;
    expect(record.backend).toBe(driver.name.startsWith('asterisk') ? 'asterisk' : 'jambonz');
    expect(portable(record).transcript).toEqual([
      'bot: Hello there.',
      'caller: I have a question about my invoice',
      'bot: Billing answer.',
    ]);
    expect(record.intent).toBe('billing');
    const heard = call.collectBotAudio();
    expect(audibleMs(heard.pcm, heard.sampleRate)).toBeGreaterThanOrEqual(200);
    seen('transcript', record);
  });

  it('escalates with the X-Voicebot-* headers; answered', async () => {
    const s = await start(['can I talk to a real person'], 'answer');
    const call = await s.startCall(WAV);
    const record = await call.record;
    expect(record.escalation).toMatchObject({ reason: 'caller-request', target: 'agent', outcome: 'answered' });
    const headers = call.agentHeaders();
    expect(headers).toHaveLength(1);
    expect(headers[0]).toMatchObject({
      'X-Voicebot-Call-Id': call.id,
      'X-Voicebot-Phone': '+15551230001',
      'X-Voicebot-Intent': expect.any(String) as string,
    });
    seen('escalation-answered', record);
    await call.hangup();
  });

  it('a busy agent gives the caller back to the bot', async () => {
    const s = await start(['can I talk to a real person'], 'busy');
    const call = await s.startCall(WAV);
    await waitFor(
      () => s.deps.published.some((e) => e.type === 'escalation-outcome' && e.callId === call.id),
      10_000,
      'escalation outcome',
    );
    await untilListening(s.deps, call.id);
    await call.hangup();
    const record = await call.record;
    expect(record.escalation).toMatchObject({ target: 'agent', outcome: 'busy' });
    seen('escalation-busy', record);
  });

  it('DTMF 0 escalates', async () => {
    const s = await start([]);
    const call = await s.startCall();
    await untilListening(s.deps, call.id);
    call.sendDtmf('0');
    const record = await call.record;
    expect(record.escalation).toMatchObject({ reason: 'dtmf', target: 'agent' });
    expect(record.transcript.some((e) => e.text === '[DTMF 0]')).toBe(true);
    seen('dtmf', record);
    await call.hangup();
  });

  it('a malformed frame is counted and dropped; the call goes on', async () => {
    const s = await start(['I have a question about my invoice']);
    const call = await s.startCall();
    await untilListening(s.deps, call.id);
    const before = await call.droppedFrames();
    await call.malformedFrame();
    const deadline = Date.now() + 2000;
    while ((await call.droppedFrames()) <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await call.droppedFrames()).toBe(before + 1);
    await call.say(WAV);
    await untilTurns(s.deps, call.id, 1);
    await call.hangup();
    const record = await call.record;
    expect(record.intent).toBe('billing');
    seen('malformed', record);
  });
});

describe('conformance: every backend agrees', () => {
  it('each case gave the same portable record on every backend that ran it', () => {
    for (const [name, byBackend] of results) {
      const [first, ...rest] = [...byBackend.entries()];
      for (const [backend, rec] of rest) {
        expect({ case: name, backend, rec }).toEqual({ case: name, backend, rec: first![1] });
      }
    }
  });
});
