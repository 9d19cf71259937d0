import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../src/signature.js';
import { dialVerb, hangupVerb, listenVerb } from '../src/verbs.js';
import { l16ToPcm, pcmToL16 } from '../src/pcm.js';
import { validateVerbs } from '../../test/emulators/jambonz/index.js';

describe('Jambonz-Signature', () => {
  const body = '{"call_sid":"x","from":"+1555"}';
  const t = 1_800_000_000;

  it('verifies what it signs, over the exact raw body', () => {
    const header = signWebhook('k', body, t);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(header, body, 'k', { nowSec: t })).toEqual({ ok: true });
    expect(verifyWebhookSignature(header, Buffer.from(body), 'k', { nowSec: t + 300 })).toEqual({ ok: true });
    // One changed byte (re-serialised JSON, whitespace) breaks it.
    expect(verifyWebhookSignature(header, body.replace(':', ': '), 'k', { nowSec: t })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('rejects stale, missing, malformed and wrong-secret signatures', () => {
    const header = signWebhook('k', body, t);
    expect(verifyWebhookSignature(header, body, 'k', { nowSec: t + 301 })).toMatchObject({ reason: 'stale' });
    expect(verifyWebhookSignature(header, body, 'k', { nowSec: t - 301 })).toMatchObject({ reason: 'stale' });
    expect(verifyWebhookSignature(undefined, body, 'k')).toMatchObject({ reason: 'missing' });
    expect(verifyWebhookSignature('t=abc,v1=zz', body, 'k')).toMatchObject({ reason: 'malformed' });
    expect(verifyWebhookSignature(header, body, 'other', { nowSec: t })).toMatchObject({ reason: 'mismatch' });
  });

  it('accepts any of several v1 values (secret rotation)', () => {
    const good = signWebhook('new', body, t).split(',')[1]!;
    const header = `t=${t},v1=${'0'.repeat(64)},${good}`;
    expect(verifyWebhookSignature(header, body, 'new', { nowSec: t })).toEqual({ ok: true });
  });
});

describe('verbs', () => {
  it.each([8000, 16000] as const)('listen at %i Hz passes @jambonz/verb-specifications', (rate) => {
    const verb = listenVerb({
      url: 'wss://bot.example.com/jambonz/audio',
      sampleRate: rate,
      actionHook: '/listen-ended',
      wsAuth: { username: 'cs', password: 'tok' },
      metadata: { voicebotCallId: 'cs' },
    });
    expect(() => validateVerbs([verb, hangupVerb()])).not.toThrow();
  });

  it.each(['sip', 'user', 'phone'] as const)('dial to a %s target passes validation', (kind) => {
    const verb = dialVerb(
      {
        target: { kind, address: kind === 'phone' ? '+15551234567' : 'agent@example.com', timeoutSec: 30 },
        headers: { 'X-Voicebot-Call-Id': 'c' },
      },
      { actionHook: 'https://bot/jambonz/hook/dial-ended', confirmHook: '/dial-confirm', trunk: 'carrier' },
    );
    expect(() => validateVerbs([verb])).not.toThrow();
  });

  it('the validator really rejects a bad verb (the checks above can fail)', () => {
    expect(() => validateVerbs([{ verb: 'listen', url: 'x', bogus: 1 }])).toThrow(/unknown property/);
    expect(() => validateVerbs([{ verb: 'dial' }])).toThrow(/target/);
  });
});

describe('L16', () => {
  it('round-trips little-endian PCM16 including the extremes', () => {
    const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 256]);
    const bytes = pcmToL16(pcm);
    expect(Array.from(bytes.subarray(0, 6))).toEqual([0, 0, 1, 0, 0xff, 0xff]);
    expect(Array.from(l16ToPcm(bytes))).toEqual(Array.from(pcm));
    // an odd offset into a larger buffer (as ws may hand us) decodes the same
    const shifted = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
    expect(Array.from(l16ToPcm(shifted))).toEqual(Array.from(pcm));
  });
});
