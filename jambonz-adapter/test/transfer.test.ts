import { afterEach, describe, expect, it } from 'vitest';
import { attached, startHarness, tone, waitFor, type Harness } from './harness.js';
import type { DialOutcome } from '../../test/emulators/jambonz/index.js';
import { voicebotHeaders, type TransferRequest } from 'voicebot/telephony';

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
    // jambonz's view too: the confirm hook bridged the agent (a hangup there would have rejected them).
    expect(c.dialAttempts[0]!.outcome).toBe('answered');
    await waitFor(() => c.bridged, 2000, 'bridged');
    await leg.hangup('bot done');
    await waitFor(() => h.backend.stats().calls === 0, 2000, 'leg released');
    await c.hangup();
    expect(await c.done).toBe('caller hangup');
  });

  it.each(['busy', 'no-answer', 'failed'] as const)(
    "%s, also reported as the agent leg's call:status: the caller goes back to the bot on a new listen",
    async (outcome) => {
      const { c, leg } = await call(outcome);
      const result = await leg.transfer(request('sip', 'sip:agent@pbx'), AbortSignal.timeout(5000));
      expect(result.outcome).toBe(outcome);
      expect(result.detail).toContain('SIP');
      // jambonz reported the agent leg's own status to the caller's status hook / socket (the agent's sid in data) …
      const agent = c.dialAttempts[0]!.childSid;
      await waitFor(() => c.childStatusSent.some((s) => s.status === outcome), 2000, 'agent status');
      expect(c.childStatusSent.every((s) => s.callSid === agent)).toBe(true);
      expect(c.ended).toBeNull();
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

  it.each(['ringing', 'early-media', 'trying'] as const)(
    'a ring timeout reported as %s (the last provisional status) is no-answer',
    async (last) => {
      h = await startHarness();
      const emu = await h.emulator({ mode, dial: () => 'no-answer', ringTimeoutStatus: last });
      const { call: c, leg } = await h.callIn(emu, { from: '+15551230001', to: '+15550000' });
      const result = await leg.transfer(request('sip', 'sip:agent@pbx'), AbortSignal.timeout(5000));
      expect(c.dialAttempts[0]!.actionStatus).toBe(last);
      expect(result.outcome).toBe('no-answer');
      await waitFor(() => c.listens === 2 && leg.hasAudio, 3000, 'second listen');
    },
  );

  describe('the bridged phase (the dial actionHook comes when the dial ends)', () => {
    async function bridged() {
      const { c, leg } = await call('answered');
      const result = await leg.transfer(request('sip', 'sip:agent@pbx'), AbortSignal.timeout(5000));
      expect(result.outcome).toBe('answered');
      // The call core lets go of a transferred call; the backend releases the leg.
      await leg.hangup('bot-finished');
      await waitFor(() => h.backend.stats().calls === 0 && c.bridged, 2000, 'leg released, caller bridged');
      expect(c.dialAttempts[0]!.actionStatus).toBeUndefined();
      return { c, leg };
    }

    it('a long hand-off costs the bot nothing: no leg, audio socket, pacer, timer or handler while bridged', async () => {
      const { c, leg } = await bridged();
      expect(h.backend.stats()).toMatchObject({ calls: 0, audioSockets: 0, running: 0 });
      expect(leg.held).toEqual({ audio: false, control: false, pacer: false, timers: 0, waiters: 0 });
      // No media reaches the bot while caller and agent talk: the only listen was the one before the dial.
      expect(c.audioOpen).toBe(false);
      expect(c.listens).toBe(1);
      expect(h.backend.stats().controlSockets).toBe(mode === 'ws' ? 1 : 0);
      c.agentHangup();
      expect(await c.done).toBe('hangup verb');
    });

    it('the caller hangs up while bridged: the call ends cleanly and the late actionHook is harmless', async () => {
      const { c } = await bridged();
      await c.hangup();
      expect(await c.done).toBe('caller hangup');
      expect(c.dialAttempts[0]!.actionStatus).toBe('completed');
      expect(c.childStatusSent.map((s) => s.status)).toEqual(['trying', 'ringing', 'in-progress', 'completed']);
      await waitFor(() => h.backend.stats().controlSockets === 0, 2000, 'WS API socket closed');
      expect(h.backend.stats()).toMatchObject({ calls: 0, audioSockets: 0, running: 0 });
      expect(c.hookErrors).toEqual([]);
    });

    it('the agent hangs up first: the dial ends with completed and the caller is hung up', async () => {
      const { c } = await bridged();
      c.agentHangup();
      expect(await c.done).toBe('hangup verb');
      expect(c.dialAttempts[0]!.actionStatus).toBe('completed');
      expect(c.listens).toBe(1);
      expect(c.verbErrors).toEqual([]);
      expect(h.backend.stats()).toMatchObject({ calls: 0, audioSockets: 0, running: 0 });
    });
  });

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
    expect(c.controlReconnects).toBe(0);
    expect(leg.state).toBe('bot');
    expect(leg.hasAudio).toBe(true);
  });
});
