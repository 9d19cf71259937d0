import { createSocket } from 'node:dgram';
import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryRecordSink } from '../../src/dialog/scripted.js';
import { RtpStream, startAriEmulator } from '../emulators/ari/index.js';
import type { CallLeg } from '../../src/telephony/port.js';
import { assertReleased, startTestBackend, tone, waitFor, useAsteriskRig } from './helpers.js';

describe('Asterisk backend: inbound call flow through the ARI emulator', () => {
  const rig = useAsteriskRig();
  beforeEach(async () => {
    rig.emu = await startAriEmulator();
  });

  it('answers, bridges externalMedia, carries audio both ways and releases everything on caller hangup', async () => {
    const legs: CallLeg[] = [];
    const heard: Int16Array[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      legs.push(leg);
      leg.on('audio', (f) => heard.push(f));
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall({ from: '+15551234567', to: '100' });
    await waitFor(() => legs.length === 1, 3000, 'onCall');
    const leg = legs[0]!;
    expect(leg.from).toBe('+15551234567');
    expect(leg.to).toBe('100');
    expect(leg.inputSampleRate).toBe(8000);
    // the app waited for the UnicastRTP StasisStart before adding it: no 422 on our addChannel
    expect(rig.emu.requestsTo('POST', /addChannel$/).every((r) => r.status === 204)).toBe(true);
    expect(rig.emu.requestsTo('POST', /\/answer$/)).toHaveLength(1);

    // caller → bot
    const sent = tone(400);
    await caller.sendPcm(sent, { speed: 0 });
    await waitFor(() => heard.reduce((n, f) => n + f.length, 0) >= sent.length, 3000, 'caller audio at the bot');

    // bot → caller, paced; silence fill keeps the stream alive from the start
    leg.sendAudio(tone(200, 600));
    await leg.waitForPlayout(AbortSignal.timeout(3000));
    await waitFor(() => caller.audibleMs() >= 200, 2000, 'bot audio at the caller');
    const media = [...rig.emu.mediaEndpoints][0]!;
    expect(media.stats.droppedStrict).toBe(0);
    expect(media.stats.wrongFormat).toBe(0);

    caller.hangup();
    await waitFor(
      () => assertReleased(rig.t!, rig.emu).length === 0,
      3000,
      `release (${assertReleased(rig.t!, rig.emu).join(', ')})`,
    );
  });

  it('bad packets and packets from a stranger are counted and dropped; the call goes on', async () => {
    const heard: Int16Array[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      leg.on('audio', (f) => heard.push(f));
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => rig.t!.backend.calls.get(caller.channelId)?.ready === true, 3000, 'call up');
    const call = rig.t.backend.calls.get(caller.channelId)!;
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve));
    stranger.send(Buffer.from('not rtp at all'), call.ids.rtpPort, '127.0.0.1');
    stranger.send(new RtpStream().packet(Buffer.alloc(160, 0x00)), call.ids.rtpPort, '127.0.0.1');
    await waitFor(() => call.mediaStats!.rtp.dropped.wrongSource === 2, 2000, 'stranger dropped');
    stranger.close();
    const metrics = await rig.t.metrics.getSingleMetricAsString('voicebot_rtp_dropped_total');
    expect(metrics).toMatch(/reason="wrongSource"\} 2/);
    await caller.sendPcm(tone(100), { speed: 0 });
    await waitFor(() => heard.length >= 5, 2000, 'caller audio still flows');
    expect(call.mediaStats!.rtp.dropped.malformed).toBe(0); // the source check comes first
    rig.emu.mediaEndpoints[0]!.sendRaw(Buffer.from([0x80, 0x00, 0x01])); // from Asterisk's socket: too short
    await waitFor(() => call.mediaStats!.rtp.dropped.malformed === 1, 2000, 'malformed dropped');
    caller.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });
});

describe('Asterisk backend: RTP ports exhausted', () => {
  const rig = useAsteriskRig();

  it('refuses the call before answering (congestion) and still leaves a CallRecord', async () => {
    rig.emu = await startAriEmulator();
    const records = new MemoryRecordSink();
    const legs: CallLeg[] = [];
    // a range of one port (below the ranges the other test files use): the first call holds it
    const port = 29000 + (process.pid % 1000);
    rig.t = await startTestBackend(
      rig.emu,
      async (leg) => {
        legs.push(leg);
        await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
      },
      { asterisk: { rtpPortMin: port, rtpPortMax: port }, deps: { records } },
    );
    const first = await rig.emu.placeCall({ from: '+15550000001' });
    await waitFor(() => legs.length === 1, 3000, 'first call up');
    const second = await rig.emu.placeCall({ from: '+15550000002' });
    await second.ended;
    // never answered, hung up as congestion
    expect(
      rig.emu.requestsTo('POST', new RegExp(`/channels/${second.channelId.replace('.', '\\.')}/answer$`)),
    ).toHaveLength(0);
    const hangupOf = () =>
      rig.emu.requestsTo('DELETE', new RegExp(`/channels/${second.channelId.replace('.', '\\.')}$`));
    await waitFor(() => hangupOf().length === 1, 2000, 'hangup logged');
    const hangup = hangupOf();
    expect(hangup[0]?.query.reason).toBe('congestion');
    expect(legs).toHaveLength(1);
    await waitFor(() => records.of('end').length === 1, 2000, 'record of the refused call');
    const [record] = records.of('end');
    expect(record).toMatchObject({ callId: second.channelId, phone: '+15550000002', outcome: 'error' });
    expect(record!.summary).toMatch(/no free RTP port/);
    const metric = await rig.t.metrics.getSingleMetricAsString('voicebot_asterisk_calls_total');
    expect(metric).toContain('result="no-rtp-port"} 1');
    first.hangup();
    await waitFor(() => assertReleased(rig.t!, rig.emu).length === 0, 3000, 'release');
  });
});
