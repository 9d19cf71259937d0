import { afterEach, describe, expect, it } from 'vitest';
import { attached, startHarness, tone, waitFor, type Harness } from './harness.js';
import type { DialOutcome } from '../../test/emulators/jambonz/index.js';
import { voicebotHeaders } from '../../src/telephony/headers.js';
import type { TransferRequest } from '../../src/telephony/port.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const headers = voicebotHeaders({
  callId: 'cs-x',
  phone: '+15551230001',
  intent: 'billing',
  summary: 'Caller asks about a double charge',
  ticketId: '42',
});
const request = (kind: TransferRequest['target']['kind'], address: string): TransferRequest => ({
  target: { kind, address, timeoutSec: 20 },
  headers,
});

describe.each(['webhook', 'ws'] as const)('escalation by dial (%s mode)', (mode) => {
  async function call(outcome: DialOutcome) {
    h = await startHarness();
    const emu = await h.emulator({ mode, dial: () => outcome });
    const legP = h.nextLeg();
    const c = await emu.placeCall({ from: '+15551230001', to: '+15550000' });
    const leg = await legP;
    await attached(leg);
    return { emu, c, leg };
  }

  it.each([
    ['sip', 'sip:agent@pbx.example.com', { type: 'sip', sipUri: 'sip:agent@pbx.example.com' }],
    ['user', 'agent@example.com', { type: 'user', name: 'agent@example.com' }],
    ['phone', '+15557654321', { type: 'phone', number: '+15557654321' }],
  ] as const)('dials a %s target with the X-Voicebot-* headers; answered', async (kind, address, target) => {
    const { c, leg } = await call('answered');
    const result = await leg.transfer(request(kind, address), AbortSignal.timeout(5000));
    expect(result.outcome).toBe('answered');
    expect(c.dialAttempts).toHaveLength(1);
    expect(c.dialAttempts[0]!.target).toMatchObject(target);
    expect(c.dialAttempts[0]!.headers).toEqual(headers);
    expect(c.dialAttempts[0]!.timeout).toBe(20);
    expect(c.verbErrors).toEqual([]);
    // After the agent leg completes jambonz gets a hangup; the bot let go when it was bridged.
    await leg.hangup('bot done');
    expect(await c.done).toMatch(/hangup verb|app hung up/);
    // jambonz's view too: the confirm hook bridged the agent (a hangup there would have rejected them).
    expect(c.dialAttempts[0]!.outcome).toBe('answered');
    await waitFor(() => h.backend.stats().calls === 0, 2000, 'leg released');
  });

  it.each(['busy', 'no-answer', 'failed'] as const)(
    '%s: the caller goes back to the bot on a new listen',
    async (outcome) => {
      const { c, leg } = await call(outcome);
      const result = await leg.transfer(request('sip', 'sip:agent@pbx'), AbortSignal.timeout(5000));
      expect(result.outcome).toBe(outcome);
      expect(result.detail).toContain('SIP');
      // The dial's actionHook answered with a new listen: audio flows again on a second socket.
      await waitFor(() => c.listens === 2 && leg.hasAudio, 3000, 'second listen');
      const frames: Int16Array[] = [];
      leg.on('audio', (f) => frames.push(f));
      await c.sendAudio(tone(100, 16000), 16000);
      await waitFor(() => frames.length === 5, 2000, 'audio after failed transfer');
      leg.sendAudio(tone(200, 16000));
      await leg.waitForPlayout(AbortSignal.timeout(5000));
      expect(c.heard().length).toBeGreaterThanOrEqual(3200);
      expect(c.verbErrors).toEqual([]);
      expect(leg.ended).toBe(false);
    },
  );

  it('an Asterisk endpoint target fails clearly without touching the call', async () => {
    const { c, leg } = await call('answered');
    const result = await leg.transfer(request('endpoint', 'PJSIP/agent'));
    expect(result).toMatchObject({ outcome: 'failed' });
    expect(result.detail).toMatch(/endpoint/);
    expect(c.dialAttempts).toHaveLength(0);
    expect(leg.hasAudio).toBe(true);
  });
});

describe('WS API frame size', () => {
  it('a dial command over 24 KiB is never sent: the transfer fails and the call stays with the bot', async () => {
    h = await startHarness();
    const emu = await h.emulator({ mode: 'ws' });
    const legP = h.nextLeg();
    const c = await emu.placeCall({ from: '+15551230001', to: '+15550000' });
    const leg = await legP;
    await attached(leg);
    const huge: Record<string, string> = {};
    for (let i = 0; i < 120; i++) huge[`X-Voicebot-Extra-${i}`] = 'x'.repeat(250);
    const result = await leg.transfer({ target: { kind: 'sip', address: 'sip:a@b', timeoutSec: 20 }, headers: huge });
    expect(result).toMatchObject({ outcome: 'failed' });
    expect(result.detail).toMatch(/24 KiB/);
    expect(await h.counter('voicebot_jambonz_oversize_frames_total')).toBe(1);
    expect(c.commands.filter((x) => x.startsWith('command:'))).toEqual([]);
    expect(c.control?.readyState).toBe(1);
    expect(leg.state).toBe('bot');
    expect(leg.hasAudio).toBe(true);
  });
});
