import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/crm/backoff.js';
import { isRetryableStatus } from '../../src/core/errors.js';
import { DeliveryError, parseRetryAfter, statusLabel } from '../../src/crm/errors.js';
import { humanIntent, noteBody, recordField } from '../../src/crm/format.js';
import { e164, phoneDigits, phoneForms } from '../../src/crm/phone.js';
import { makeRecord } from './helpers.js';

describe('CRM building blocks', () => {
  const policy = { baseDelayMs: 1000, maxDelayMs: 60_000 };

  it('backoff grows exponentially with jitter, is capped, and Retry-After wins', () => {
    expect(backoffDelay(1, policy, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, undefined, () => 0.999)).toBe(999);
    expect(backoffDelay(4, policy, undefined, () => 0)).toBe(4000);
    expect(backoffDelay(30, policy, undefined, () => 1)).toBe(60_000);
    expect(backoffDelay(3, policy, 7000, () => 0)).toBe(7000);
    expect(backoffDelay(3, policy, 7000, () => 0.5)).toBe(7500);
  });

  it('classifies statuses: 408/409/429/5xx retry, other 4xx dead-letter', () => {
    expect([400, 401, 403, 404, 422].map(isRetryableStatus)).toEqual([false, false, false, false, false]);
    expect([408, 409, 429, 500, 502, 503].map(isRetryableStatus)).toEqual([true, true, true, true, true, true]);
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(statusLabel(new DeliveryError('x', true, 503))).toBe('503');
    expect(statusLabel(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('timeout');
  });

  it('normalises phone numbers from E.164, national digits and SIP URIs', () => {
    expect(phoneDigits('sip:+15551234567@pbx.example.com;user=phone')).toBe('15551234567');
    expect(e164('(555) 123-4567')).toBe('+5551234567');
    expect(e164('anonymous')).toBeUndefined();
    expect(phoneForms('+1 555 123 4567')).toEqual([
      '+1 555 123 4567',
      '+15551234567',
      '15551234567',
      '5551234567',
      '(555) 123-4567',
    ]);
  });

  it('formats the note with summary, confidences, speaker labels and a step marker', () => {
    const body = noteBody(makeRecord(), 'end');
    expect(body).toContain('Call ended (escalated).');
    expect(body).toContain('[00:00] Bot: Hello, how can I help?');
    expect(body).toContain('Details: account=12345');
    expect(body.endsWith('voicebot-step: call-1/end')).toBe(true);
    expect(humanIntent('opening_hours')).toBe('Opening hours');
    expect(recordField(makeRecord(), 'slots.account')).toBe('12345');
    expect(recordField(makeRecord(), 'nope')).toBeNull();
  });
});
