import { describe, expect, it } from 'vitest';
import { AriClient } from '../../src/telephony/asterisk/ari-client.js';
import type { AsteriskCall } from '../../src/telephony/asterisk/asterisk-call.js';
import { startAriEmulator, type AriEmulator } from '../emulators/ari/index.js';
import type { CallLeg, TransferResult } from '../../src/telephony/port.js';
import { assertReleased, startTestBackend, tone, waitFor, useAsteriskRig } from './helpers.js';

describe('Asterisk backend: websocket drop and resynchronisation', () => {
  const rig = useAsteriskRig();

  async function setup() {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'answer', ringMs: 150 } } });
    const legs: CallLeg[] = [];
    const frames: number[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      legs.push(leg);
      leg.on('audio', () => frames.push(performance.now()));
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    await waitFor(() => rig.t!.backend.resyncs === 1, 2000, 'first resync');
    return { legs, frames };
  }

  it('mid-call drop: media keeps flowing, the backend reconnects, resyncs and the call goes on', async () => {
    const { legs, frames } = await setup();
    const caller = await rig.emu.placeCall();
    await waitFor(() => legs.length === 1, 3000, 'call');
    rig.emu.dropWebsockets(150);
    const before = frames.length;
    await caller.sendPcm(tone(200), { speed: 0 }); // during the gap
    await waitFor(() => frames.length >= before + 10, 2000, 'audio during the gap');
    await waitFor(() => rig.t!.backend.resyncs === 2, 5000, 'resync after reconnect');
    expect(rig.t!.backend.calls.size).toBe(1);
    legs[0]!.sendAudio(tone(100));
    await waitFor(() => caller.audibleMs() >= 100, 2000, 'bot audio after reconnect');
    // events flow again: a hangup now is seen directly
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('caller hangs up during the gap: the lost events are recovered by the resync and everything is released', async () => {
    const { legs } = await setup();
    const caller = await rig.emu.placeCall();
    await waitFor(() => legs.length === 1, 3000, 'call');
    const hungUp = new Promise<string>((resolve) => legs[0]!.on('hangup', resolve));
    rig.emu.dropWebsockets(150);
    const lost = rig.emu.lostEvents;
    caller.hangup();
    expect(rig.emu.lostEvents).toBeGreaterThan(lost); // StasisEnd & co went nowhere
    expect(rig.t!.backend.calls.size).toBe(1);
    expect(await hungUp).toMatch(/ARI was disconnected/);
    await waitFor(
      () => assertReleased(rig.t!, rig.emu).length === 0,
      3000,
      `release: ${assertReleased(rig.t!, rig.emu).join(', ')}`,
    );
  });

  it('agent answers during the gap: the resync replays the missed Dial and the transfer completes', async () => {
    rig.emu = await startAriEmulator({ endpoints: { 'PJSIP/agent': { answer: 'answer', ringMs: 100 } } });
    const results: TransferResult[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      const ended = new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
      results.push(
        await leg.transfer({ target: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 5 }, headers: {} }),
      );
      await ended;
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => rig.emu.requestsTo('POST', /\/dial$/).length === 1, 3000, 'dialling');
    rig.emu.dropWebsockets(300); // the ANSWER at ~100 ms is lost
    await waitFor(() => results.length === 1, 5000, 'transfer result');
    expect(results[0]!.outcome).toBe('answered');
    const agent = [...rig.emu.channels.values()].find((c) => c.kind === 'dialed')!;
    expect(agent.bridgeId).not.toBeNull();
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it('hand-over: a second instance reattaches a call that is still up, from the session store', async () => {
    rig.emu = await startAriEmulator();
    const firstLegs: CallLeg[] = [];
    const first = await startTestBackend(rig.emu, async (leg) => {
      firstLegs.push(leg);
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => firstLegs.length === 1, 3000, 'call on the first instance');
    expect([...first.sessions.map.keys()]).toEqual([`asterisk:${caller.channelId}`]);
    await first.backend.stop({ handOver: true });
    expect(rig.emu.channels.size).toBe(2); // caller + UnicastRTP stay up
    expect(first.backend.ports.inUse).toBe(0);

    const legs: CallLeg[] = [];
    const heard: Int16Array[] = [];
    rig.t = await startTestBackend(
      rig.emu,
      async (leg) => {
        legs.push(leg);
        leg.on('audio', (f) => heard.push(f));
        await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
      },
      { like: first },
    );
    await waitFor(() => legs.length === 1, 3000, 'reattached call');
    expect(legs[0]!.id).toBe(caller.channelId);
    await caller.sendPcm(tone(200), { speed: 0 });
    await waitFor(() => heard.length >= 10, 2000, 'caller audio at the new instance');
    legs[0]!.sendAudio(tone(100));
    await waitFor(() => caller.audibleMs() >= 100, 2000, 'new instance audio at the caller');
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });

  it.each([
    ['bridge', (emu: AriEmulator, call: AsteriskCall) => emu.destroyBridge(call.ids.bridgeId)],
    ['media channel', (emu: AriEmulator, call: AsteriskCall) => emu.hangupChannel(call.ids.mediaChannelId)],
  ] as const)(
    'the %s disappears while the event socket is down: the resync ends the call and releases everything',
    async (_what, lose) => {
      const { legs } = await setup();
      const caller = await rig.emu.placeCall();
      await waitFor(() => legs.length === 1, 3000, 'call');
      const call = rig.t!.backend.calls.get(caller.channelId)!;
      rig.emu.dropWebsockets(150);
      lose(rig.emu, call);
      await caller.ended; // the resync hung the caller up: nobody could serve the call any more
      await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
    },
  );

  it('release steps that fail while Asterisk’s HTTP side is down are retried until the objects are gone', async () => {
    const { legs } = await setup();
    const caller = await rig.emu.placeCall();
    await waitFor(() => legs.length === 1, 3000, 'call');
    rig.emu.refuseRest(true); // the event socket stays up: the hangup is seen at once
    caller.hangup();
    await waitFor(() => rig.emu.restRefused >= 2, 3000, 'DELETEs refused');
    expect(rig.emu.channels.size).toBe(1); // the UnicastRTP channel …
    expect(rig.emu.bridges.size).toBe(1); // … and the bridge are still there
    rig.emu.refuseRest(false);
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 5000, 'released by the retries');
  });

  it('a resync deletes channels and bridges of ours that no live call owns', async () => {
    await setup();
    // leftovers from a process that crashed mid-call: our prefix, no session, no call
    const client = new AriClient({ ...rig.emu.ariConfig(), requestTimeoutMs: 2000 });
    await client.createBridge('vb-bridge-voicebot-leftover');
    await client.externalMedia({
      channelId: 'vb-media-voicebot-leftover',
      externalHost: '127.0.0.1:9',
      format: 'ulaw',
    });
    // not ours: another app's and a plain bridge stay
    await client.createBridge('vb-bridge-otherapp-1');
    await client.createBridge('conference-7');
    rig.emu.dropWebsockets();
    await waitFor(() => rig.t!.backend.resyncs === 2, 3000, 'resync');
    expect([...rig.emu.bridges.keys()].sort()).toEqual(['conference-7', 'vb-bridge-otherapp-1']);
    expect(rig.emu.channels.size).toBe(0);
  });
});
