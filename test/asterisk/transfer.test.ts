import { describe, expect, it } from 'vitest';
import { peak, startAriEmulator, type Party } from '../emulators/ari/index.js';
import type { CallLeg, TransferResult } from '../../src/telephony/port.js';
import { assertReleased, startTestBackend, tone, waitFor, useAsteriskRig } from './helpers.js';

const HEADERS = { 'X-Voicebot-Call-Id': 'call-1', 'X-Voicebot-Ticket-Id': '123', 'X-Voicebot-Intent': 'billing' };

describe('Asterisk backend: escalation to an agent', () => {
  const rig = useAsteriskRig();

  async function callAndTransfer(listen = false) {
    const results: TransferResult[] = [];
    const legs: CallLeg[] = [];
    let agent: Party | null = null;
    rig.emu.on('party', (p) => (agent = p));
    rig.t = await startTestBackend(
      rig.emu,
      async (leg) => {
        legs.push(leg);
        const ended = new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
        results.push(
          await leg.transfer({
            target: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 5 },
            headers: HEADERS,
            ...(listen ? { listen } : {}),
          }),
        );
        if (results[0]!.outcome !== 'answered') {
          leg.sendAudio(tone(100));
          await leg.waitForPlayout(AbortSignal.timeout(2000));
        }
        await ended;
      },
      {},
    );
    const caller = await rig.emu.placeCall({ from: '+15550001111' });
    await waitFor(() => results.length === 1, 8000, 'transfer result');
    return { caller, result: results[0]!, leg: legs[0]!, agent: agent as Party | null };
  }

  it('answered: originates with the X-Voicebot headers, MOH while ringing, agent joins, bot leaves', async () => {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'answer', ringMs: 80 } } });
    const { caller, result, agent } = await callAndTransfer();
    expect(result.outcome).toBe('answered');
    const [create] = rig.emu.requestsTo('POST', /\/channels\/create$/);
    expect(create!.query.endpoint).toBe('PJSIP/agent');
    expect(create!.body).toEqual({
      variables: {
        'PJSIP_HEADER(add,X-Voicebot-Call-Id)': 'call-1',
        'PJSIP_HEADER(add,X-Voicebot-Ticket-Id)': '123',
        'PJSIP_HEADER(add,X-Voicebot-Intent)': 'billing',
      },
    });
    expect(rig.emu.requestsTo('POST', /\/moh$/)).toHaveLength(1);
    expect(rig.emu.requestsTo('DELETE', /\/moh$/)).toHaveLength(1);
    expect(caller.mohStarted).toBe(1);
    // the bot left: only caller and agent remain in the bridge; its port is free
    await waitFor(() => rig.t!.backend.ports.inUse === 0, 2000, 'bot media released');
    const bridge = [...rig.emu.bridges.values()][0]!;
    expect([...bridge.channels].sort()).toEqual([caller.channelId, agent!.channelId].sort());
    // caller and agent hear each other
    await caller.sendPcm(tone(100), { speed: 0 });
    await waitFor(() => agent!.audibleMs() >= 100, 2000, 'caller audio at the agent');
    // the agent hangs up: everything goes
    agent!.hangup();
    await caller.ended;
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('answered with listen (agentStaysSilent): the bot stays muted; a snoop per person keeps caller and agent apart', async () => {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'answer', ringMs: 20 } } });
    const mixed: Int16Array[] = [];
    const parties: Record<string, Int16Array[]> = { caller: [], agent: [] };
    const { caller, result, leg, agent } = await callAndTransfer(true);
    leg.on('audio', (f) => mixed.push(f));
    leg.on('party-audio', (party, f) => parties[party]!.push(f));
    expect(result).toMatchObject({ outcome: 'answered', listening: true });
    // the bot's own leg stays in the call's bridge, muted
    const bridge = rig.emu.bridges.get(rig.t!.backend.calls.get(leg.id)!.ids.bridgeId)!;
    expect(bridge.channels.size).toBe(3);
    // one snoop per person, spy in only, each in a bridge of its own with one of our externalMedia channels
    const snoops = rig.emu.requestsTo('POST', /\/snoop$/);
    expect(snoops.map((r) => [r.path.split('/')[3], r.query.spy, r.query.whisper]).sort()).toEqual(
      [
        [caller.channelId, 'in', 'none'],
        [agent!.channelId, 'in', 'none'],
      ].sort(),
    );
    const mutedAt = performance.now();
    leg.sendAudio(tone(200)); // muted: the agent has the line
    const loud = (frames: Int16Array[]) => frames.filter((f) => peak(f) > 500).length;
    await caller.sendPcm(tone(200), { speed: 1 });
    await waitFor(() => loud(parties.caller!) >= 5, 2000, 'the caller on the caller stream');
    expect(loud(parties.agent!)).toBe(0);
    await waitFor(() => agent!.audibleMs() >= 100, 2000, 'caller audio at the agent');
    // nothing audible from the bot on the wire (its leg or the taps)
    expect(rig.emu.mediaEndpoints.flatMap((m) => m.audibleAt.filter((at) => at > mutedAt))).toEqual([]);
    // the agent talks louder than the caller did: none of it may show on the caller's stream
    const agentLoud = (frames: Int16Array[]) => frames.filter((f) => peak(f) > 12_000).length;
    await agent!.sendPcm(tone(200, 440, 8000, 16_000), { speed: 1 });
    await waitFor(() => agentLoud(parties.agent!) >= 5, 2000, 'the agent on the agent stream');
    expect(agentLoud(parties.caller!)).toBe(0);
    // the call core no longer hears the bridge's mix: no turns after the hand-off
    expect(loud(mixed)).toBe(0);
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    expect([...rig.emu.channels.values()].filter((c) => c.kind === 'snoop')).toEqual([]);
  });

  it.each([
    ['busy', 'busy'],
    ['noanswer', 'no-answer'],
    ['unavailable', 'failed'],
  ] as const)('agent %s → outcome %s; the caller stays with the bot', async (answer, outcome) => {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer, ringMs: 30 } } });
    const { caller, result } = await callAndTransfer();
    expect(result.outcome).toBe(outcome);
    expect(rig.emu.requestsTo('DELETE', /\/moh$/)).toHaveLength(1);
    // the agent leg is gone, the bot still talks to the caller
    await waitFor(() => caller.audibleMs() >= 100, 3000, 'bot audio after failed transfer');
    expect([...rig.emu.channels.values()].filter((c) => c.kind === 'dialed')).toHaveLength(0);
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('a bot shutdown never cuts a caller talking to an agent; the next instance cleans up after they hang up', async () => {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'answer', ringMs: 20 } } });
    const { caller, result, agent } = await callAndTransfer();
    expect(result.outcome).toBe('answered');
    const first = rig.t!;
    await first.backend.stop();
    rig.t = null;
    expect(caller.isEnded).toBe(false);
    expect(rig.emu.channels.has(agent!.channelId)).toBe(true);
    rig.t = await startTestBackend(rig.emu, async () => undefined, { like: first });
    await waitFor(() => rig.t!.backend.resyncs === 1, 2000, 'resync');
    expect(caller.isEnded).toBe(false); // still talking: left alone
    caller.hangup();
    // the next resync (here: a reconnect) sees one side gone and releases the rest
    rig.emu.dropWebsockets();
    await waitFor(() => rig.t!.backend.resyncs === 2, 3000, 'second resync');
    await agent!.ended;
    expect(rig.emu.bridges.size).toBe(0);
    expect(first.sessions.map.size).toBe(0);
  });
});
