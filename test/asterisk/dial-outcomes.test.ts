/**
 * Dialling as a real Asterisk shows it (FACTS §1b): busy and no-answer are hangups with causes (no Dial BUSY or
 * NOANSWER), channels/create has no callerId, and /dial before the new channel's StasisStart answers 409.
 */
import { describe, expect, it } from 'vitest';
import type { CallLeg, TransferResult } from '../../src/telephony/port.js';
import { OriginateError } from '../../src/telephony/asterisk/backend.js';
import { startAriEmulator, type AriEmulator, type Party } from '../emulators/ari/index.js';
import { assertReleased, startTestBackend, tone, useAsteriskRig, waitFor } from './helpers.js';

const AGENT = 'PJSIP/agent';

/** Every event the emulator sent about dialled legs: Dial statuses and hangup causes. */
function dialEvents(emu: AriEmulator): { dial: string[]; causes: number[] } {
  const dial: string[] = [];
  const causes: number[] = [];
  emu.on('event', (ev) => {
    if (ev.type === 'Dial') dial.push(String(ev.dialstatus));
    if (ev.type === 'ChannelDestroyed') causes.push(Number(ev.cause));
  });
  return { dial, causes };
}

describe('Asterisk dialling as a real Asterisk shows it', () => {
  const rig = useAsteriskRig();

  async function transferOnce(timeoutSec = 5) {
    const results: TransferResult[] = [];
    let agent: Party | null = null;
    rig.emu.on('party', (p) => (agent = p));
    rig.t = await startTestBackend(rig.emu, async (leg: CallLeg) => {
      const ended = new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
      results.push(await leg.transfer({ target: { kind: 'endpoint', address: AGENT, timeoutSec }, headers: {} }));
      if (results[0]!.outcome !== 'answered') {
        leg.sendAudio(tone(100));
        await leg.waitForPlayout(AbortSignal.timeout(2000));
      }
      await ended;
    });
    const caller = await rig.emu.placeCall({ from: '+15550001111', callerName: 'Ada Caller' });
    await waitFor(() => results.length === 1, 10_000, 'transfer result');
    return { caller, result: results[0]!, agent: agent as Party | null };
  }

  it.each([
    ['busy', 'busy', 17],
    ['noanswer', 'no-answer', 19],
    ['rejected', 'failed', 21],
  ] as const)(
    'agent %s → outcome %s (a hangup with cause %s, no Dial BUSY/NOANSWER)',
    async (answer, outcome, cause) => {
      rig.emu = await startAriEmulator({ endpoints: { [AGENT]: { answer, ringMs: 40 } } });
      const seen = dialEvents(rig.emu);
      const { caller, result } = await transferOnce();
      expect(result.outcome).toBe(outcome);
      expect(result.detail).toContain(`cause ${cause}`);
      // what Asterisk really sent: an empty status and RINGING, then the hangup cause
      expect(seen.dial).toEqual(['', 'RINGING']);
      expect(seen.causes).toContain(cause);
      const metric = await rig.t!.metrics.getSingleMetricAsString('voicebot_asterisk_transfers_total');
      expect(metric).toContain(`outcome="${outcome}"} 1`);
      await waitFor(() => caller.audibleMs() >= 100, 3000, 'bot audio after the failed transfer');
      caller.hangup();
      await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    },
  );

  it('an agent who never answers is hung up by the ARI dial timeout (cause 19, no Dial event) → no-answer', async () => {
    rig.emu = await startAriEmulator({ endpoints: { [AGENT]: { answer: 'noanswer', ringMs: 60_000 } } });
    const seen = dialEvents(rig.emu);
    const { caller, result } = await transferOnce(1);
    expect(result).toMatchObject({ outcome: 'no-answer' });
    expect(result.detail).toContain('cause 19');
    expect(seen.dial).toEqual(['', 'RINGING']);
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('an unreachable agent (create answers 500 Allocation failed) → failed, the caller stays with the bot', async () => {
    rig.emu = await startAriEmulator({ endpoints: { [AGENT]: { answer: 'unavailable' } } });
    const { caller, result } = await transferOnce();
    expect(result.outcome).toBe('failed');
    expect(result.detail).toMatch(/500 Allocation failed/);
    await waitFor(() => caller.audibleMs() >= 100, 3000, 'bot audio after the failed transfer');
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it("the agent's phone shows the caller's number (dial?caller=), not Anonymous", async () => {
    rig.emu = await startAriEmulator({ endpoints: { [AGENT]: { answer: 'answer', ringMs: 30 } } });
    const { caller, result, agent } = await transferOnce();
    expect(result.outcome).toBe('answered');
    expect(agent!.invite).toEqual({
      from: '"Ada Caller" <sip:+15550001111@asterisk>',
      pai: '"Ada Caller" <sip:+15550001111@asterisk>',
    });
    const [dial] = rig.emu.requestsTo('POST', /\/dial$/);
    expect(dial!.query.caller).toBe(caller.channelId);
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('waits for the agent leg to enter Stasis before dialling: no 409 even when StasisStart is slow', async () => {
    rig.emu = await startAriEmulator({ stasisDelayMs: 150, endpoints: { [AGENT]: { answer: 'answer', ringMs: 30 } } });
    const { caller, result } = await transferOnce();
    expect(result.outcome).toBe('answered');
    const dials = rig.emu.requestsTo('POST', /\/dial$/);
    expect(dials.map((d) => d.status)).toEqual([204]);
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  describe('outbound calls', () => {
    async function outbound(answer: 'answer' | 'busy' | 'noanswer', timeoutSec = 5) {
      rig.emu = await startAriEmulator({
        stasisDelayMs: 60,
        endpoints: { 'PJSIP/+15550009999@trunk': { answer, ringMs: answer === 'noanswer' ? 60_000 : 30 } },
      });
      const callees: Party[] = [];
      rig.emu.on('party', (p) => callees.push(p));
      rig.t = await startTestBackend(
        rig.emu,
        async (leg) => {
          await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
        },
        { asterisk: { outboundCallerId: '+15550000000' } },
      );
      const placed = await rig.t.backend
        .originate({ kind: 'phone', address: '+15550009999', timeoutSec })
        .catch((err: unknown) => err);
      return { placed, callees };
    }

    it('leave with the configured caller id in From and P-Asserted-Identity (no callerId parameter)', async () => {
      const { placed, callees } = await outbound('answer');
      expect(typeof placed).toBe('string');
      expect(callees[0]!.invite).toEqual({
        from: '<sip:+15550000000@asterisk>',
        pai: '<sip:+15550000000@asterisk>',
      });
      expect(rig.emu.requestsTo('POST', /\/channels\/create$/)[0]!.query.callerId).toBeUndefined();
      expect(rig.emu.requestsTo('POST', /\/dial$/).map((d) => d.status)).toEqual([204]);
      callees[0]!.hangup();
      await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    });

    it.each([
      ['busy', 'busy', 5],
      ['noanswer', 'no-answer', 1],
    ] as const)('callee %s → OriginateError %s, counted in the calls metric', async (answer, outcome, timeoutSec) => {
      const { placed } = await outbound(answer, timeoutSec);
      expect(placed).toBeInstanceOf(OriginateError);
      expect((placed as OriginateError).outcome).toBe(outcome);
      const metric = await rig.t!.metrics.getSingleMetricAsString('voicebot_asterisk_calls_total');
      expect(metric).toContain(`direction="outbound",result="${outcome}"} 1`);
      await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    });
  });
});
