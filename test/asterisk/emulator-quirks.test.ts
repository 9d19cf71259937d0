/**
 * Each FACTS §1 quirk, shown twice: the emulator reproduces it (raw ARI + raw UDP), and the bot copes with it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AriClient, AriError } from '../../src/telephony/asterisk/ari-client.js';
import { AriEventStream } from '../../src/telephony/asterisk/ari-events.js';
import type { AriEvent } from '../../src/telephony/asterisk/ari-types.js';
import type { CallLeg } from '../../src/telephony/port.js';
import {
  CallRejected,
  RtpStream,
  STRICT_RTP_PROBATION,
  parseRtpPacket,
  peak,
  startAriEmulator,
  ulawDecode,
  ulawEncode,
  type AriEmulator,
} from '../emulators/ari/index.js';
import { SoftMixer } from '../emulators/ari/mixer.js';
import { startTestBackend, tone, waitFor, useAsteriskRig } from './helpers.js';

const silent = pino({ level: 'silent' });

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

function rawClient(emu: AriEmulator): AriClient {
  return new AriClient({
    url: emu.url,
    username: emu.username,
    password: emu.password,
    app: 'voicebot',
    requestTimeoutMs: 2000,
  });
}

describe('ARI emulator quirks (raw protocol)', () => {
  let emu: AriEmulator;
  let client: AriClient;
  let stream: AriEventStream;
  const events: AriEvent[] = [];
  const sockets: Socket[] = [];
  beforeEach(async () => {
    emu = await startAriEmulator();
    client = rawClient(emu);
    stream = new AriEventStream({
      url: client.eventsUrl(),
      headers: client.authHeaders(),
      logger: silent,
      reconnectMinMs: 20,
      reconnectMaxMs: 100,
    });
    events.length = 0;
    stream.on('event', (e) => events.push(e));
    await stream.start(AbortSignal.timeout(2000));
  });
  afterEach(async () => {
    await stream.stop();
    for (const s of sockets.splice(0)) s.close();
    await emu.close();
  });

  /** A fresh emulator whose created channels enter Stasis this long after the reply (a window to act in). */
  async function restartWithStasisDelay(stasisDelayMs: number) {
    await emu.close();
    emu = await startAriEmulator({ stasisDelayMs });
    await stream.stop();
    client = rawClient(emu);
    stream = new AriEventStream({ url: client.eventsUrl(), headers: client.authHeaders(), logger: silent });
    stream.on('event', (e) => events.push(e));
    await stream.start(AbortSignal.timeout(2000));
  }

  async function bridgedMedia() {
    const caller = await emu.placeCall({ continuous: false }); // only what the test sends
    await client.answer(caller.channelId);
    await client.createBridge('b1');
    await client.addChannel('b1', caller.channelId);
    const sock = await udp();
    sockets.push(sock);
    const media = await client.externalMedia({
      channelId: 'm1',
      externalHost: `127.0.0.1:${sock.address().port}`,
      format: 'ulaw',
    });
    return { caller, sock, media };
  }

  it('channels/create ignores callerId and replies before StasisStart; a dial in that window gets 409', async () => {
    await restartWithStasisDelay(1500); // a window wide enough for a loaded machine
    const res = await fetch(
      `${emu.url}/ari/channels/create?endpoint=PJSIP/agent&app=voicebot&channelId=a1&callerId=5551`,
      {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${emu.username}:${emu.password}`).toString('base64')}` },
      },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { caller: { number: string } }).caller.number).toBe('');
    const early = await client.dial('a1', 5).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(AriError);
    expect((early as AriError).status).toBe(409);
    expect((early as AriError).ariMessage).toBe('Channel not in Stasis application');
    await waitFor(() => events.some((e) => e.type === 'StasisStart' && e.channel.id === 'a1'), 5000, 'StasisStart');
    await client.dial('a1', 5);
  });

  it('externalMedia replies before its StasisStart; an early addChannel gets 422', async () => {
    await restartWithStasisDelay(300);
    const { media } = await bridgedMedia();
    expect(events.some((e) => e.type === 'StasisStart' && e.channel.id === 'm1')).toBe(false);
    const err = await client.addChannel('b1', 'm1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AriError);
    expect((err as AriError).status).toBe(422);
    expect((err as AriError).ariMessage).toMatch(/Stasis/);
    await waitFor(() => events.some((e) => e.type === 'StasisStart' && e.channel.id === 'm1'), 2000, 'StasisStart m1');
    await client.addChannel('b1', 'm1');
    expect(media.name).toMatch(/^UnicastRTP\//);
    expect(media.channelvars?.UNICASTRTP_LOCAL_ADDRESS).toBe('127.0.0.1');
  });

  it('snoop: validated as resource_channels.c does; replies before StasisStart; spy=in carries what the party says; it goes with its channel', async () => {
    await restartWithStasisDelay(300);
    const caller = await emu.placeCall({ continuous: false });
    const raw = async (query: string) => {
      const res = await fetch(`${emu.url}/ari/channels/${caller.channelId}/snoop?${query}`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${emu.username}:${emu.password}`).toString('base64')}` },
      });
      return { status: res.status, message: ((await res.json()) as { message: string }).message };
    };
    expect(await raw('app=voicebot')).toEqual({
      status: 400,
      message: 'Direction must be specified for at least spy or whisper',
    });
    expect(await raw('app=voicebot&spy=sideways')).toEqual({
      status: 400,
      message: 'Invalid direction specified for spy',
    });
    expect(await raw('spy=in')).toEqual({ status: 400, message: 'Application name is required' });
    const snoop = await client.snoop(caller.channelId, { snoopId: 's1', spy: 'in' });
    expect(snoop.name).toMatch(new RegExp(`^Snoop/${caller.channelId.replace('.', '\\.')}-`));
    await client.createBridge('tap');
    const early = await client.addChannel('tap', 's1').catch((e: unknown) => e);
    expect((early as AriError).status).toBe(422);
    await waitFor(() => events.some((e) => e.type === 'StasisStart' && e.channel.id === 's1'), 2000, 'StasisStart s1');
    await client.addChannel('tap', 's1');
    const sock = await udp();
    sockets.push(sock);
    await client.externalMedia({ channelId: 'm1', externalHost: `127.0.0.1:${sock.address().port}`, format: 'ulaw' });
    await waitFor(() => events.some((e) => e.type === 'StasisStart' && e.channel.id === 'm1'), 2000, 'StasisStart m1');
    await client.addChannel('tap', 'm1');
    let loud = 0;
    sock.on('message', (msg) => {
      if (peak(ulawDecode(parseRtpPacket(msg)!.payload)) > 500) loud++;
    });
    // the caller is in no bridge at all: the snoop still hears them
    await caller.sendPcm(tone(100), { speed: 0 });
    await waitFor(() => loud >= 5, 2000, "the caller's voice through the snoop");
    caller.hangup();
    await waitFor(
      () => events.some((e) => e.type === 'ChannelDestroyed' && e.channel.id === 's1'),
      2000,
      'the snoop channel to go with its target',
    );
  });

  it('StasisStart arrives for own channels too (UnicastRTP and originated ones)', async () => {
    await bridgedMedia();
    await client.createChannel({ endpoint: 'PJSIP/agent', channelId: 'a1' });
    await waitFor(() => events.filter((e) => e.type === 'StasisStart').length === 3, 2000, '3 StasisStarts');
    const ids = events
      .filter((e) => e.type === 'StasisStart')
      .map((e) => (e.type === 'StasisStart' ? e.channel.id : ''));
    expect(ids).toContain('m1');
    expect(ids).toContain('a1');
  });

  it('RTP to the app: 172-byte PT 0 packets, marker 0, payload bit-exact; nothing reaches the caller until the app sends', async () => {
    const { caller, sock, media } = await bridgedMedia();
    await waitFor(() => emu.channels.get('m1')?.inStasis === true, 2000, 'm1 in Stasis');
    await client.addChannel('b1', 'm1');
    const packets: Buffer[] = [];
    sock.on('message', (m) => packets.push(m));
    const pcm = tone(200);
    await caller.sendPcm(pcm, { speed: 0 });
    await waitFor(() => packets.length === 10, 2000, '10 packets');
    for (const p of packets) {
      expect(p.length).toBe(172);
      const h = parseRtpPacket(p)!;
      expect(h.payloadType).toBe(0);
      expect(h.marker).toBe(false);
    }
    expect(Buffer.concat(packets.map((p) => p.subarray(12)))).toEqual(ulawEncode(pcm));
    expect(caller.received).toHaveLength(0); // no comfort noise
    // strict RTP: from the receiving socket it is accepted at once …
    const remotePort = Number(media.channelvars!.UNICASTRTP_LOCAL_PORT);
    const out = new RtpStream();
    sock.send(out.packet(Buffer.alloc(160, 0x10)), remotePort, '127.0.0.1');
    await waitFor(() => caller.received.length === 1, 2000, 'first packet at caller');
    // … from another socket the first packets are dropped while the source is re-learned
    const other = await udp();
    sockets.push(other);
    const out2 = new RtpStream();
    for (let i = 0; i < STRICT_RTP_PROBATION + 2; i++)
      other.send(out2.packet(Buffer.alloc(160, 0x20)), remotePort, '127.0.0.1');
    await waitFor(() => caller.received.length === 1 + 3, 2000, 'packets after re-learning');
    expect(emu.mediaEndpoints[0]!.stats.droppedStrict).toBe(STRICT_RTP_PROBATION - 1);
  });

  it('slin16: Asterisk sends PT 118 but drops the 16 kHz audio sent back', async () => {
    const caller = await emu.placeCall({ continuous: false }); // only what the test sends
    await client.createBridge('b1');
    await client.addChannel('b1', caller.channelId);
    const sock = await udp();
    sockets.push(sock);
    const media = await client.request('POST', '/channels/externalMedia', {
      query: { app: 'voicebot', channelId: 'm16', external_host: `127.0.0.1:${sock.address().port}`, format: 'slin16' },
    });
    await waitFor(() => emu.channels.get('m16')?.inStasis === true, 2000, 'm16 in Stasis');
    await client.addChannel('b1', 'm16');
    const packets: Buffer[] = [];
    sock.on('message', (m) => packets.push(m));
    await caller.sendPcm(tone(100), { speed: 0 });
    await waitFor(() => packets.length === 5, 2000, '5 packets');
    expect(parseRtpPacket(packets[0]!)!.payloadType).toBe(118);
    expect(packets[0]!.length).toBe(12 + 640);
    const port = Number((media as { channelvars: Record<string, string> }).channelvars.UNICASTRTP_LOCAL_PORT);
    const out = new RtpStream();
    for (let i = 0; i < 5; i++) sock.send(out.packet(Buffer.alloc(640, 0x10), 118), port, '127.0.0.1');
    await waitFor(() => emu.mediaEndpoints[0]!.stats.droppedSlin16 === 5, 2000, 'slin16 dropped');
    expect(caller.received).toHaveLength(0);
  });

  it('/play takes the channel out of its bridge while it plays', async () => {
    const { caller, sock } = await bridgedMedia();
    await waitFor(() => emu.channels.get('m1')?.inStasis === true, 2000, 'm1 in Stasis');
    await client.addChannel('b1', 'm1');
    await client.request('POST', `/channels/${caller.channelId}/play`, { query: { media: 'sound:hello-world' } });
    let got = 0;
    sock.on('message', () => got++);
    await caller.sendPcm(tone(100), { speed: 0 });
    expect(emu.bridges.get('b1')!.channels.has(caller.channelId)).toBe(false);
    expect(got).toBe(0);
  });

  it('events during a websocket drop are lost; channels stay; 603 while no app is connected', async () => {
    const caller = await emu.placeCall({ continuous: false }); // only what the test sends
    await stream.stop();
    await waitFor(() => emu.connectedApps().length === 0, 2000, 'app gone');
    const lostBefore = emu.lostEvents;
    caller.dtmf('5');
    expect(emu.lostEvents).toBe(lostBefore + 1);
    expect(emu.channels.has(caller.channelId)).toBe(true);
    await expect(emu.placeCall()).rejects.toEqual(new CallRejected(603));
  });
});

describe('the bot copes with each quirk', () => {
  const rig = useAsteriskRig();

  it('slow StasisStart for the media channel: waits for it, never adds early, never treats own channels as callers', async () => {
    rig.emu = await startAriEmulator({ stasisDelayMs: 150 });
    const legs: CallLeg[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      legs.push(leg);
      const ended = new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
      await leg.transfer({ target: { kind: 'endpoint', address: 'PJSIP/agent', timeoutSec: 5 }, headers: {} });
      await ended;
    });
    const caller = await rig.emu.placeCall();
    const agentInBridge = () => [...rig.emu.channels.values()].some((c) => c.kind === 'dialed' && c.bridgeId !== null);
    await waitFor(agentInBridge, 3000, 'agent in bridge');
    expect(legs).toHaveLength(1); // StasisStart for UnicastRTP and agent channels did not start calls
    expect(rig.emu.requests.filter((r) => r.status === 422)).toHaveLength(0);
    expect(rig.emu.requestsTo('POST', /\/answer$/).map((r) => r.path)).toEqual([
      `/ari/channels/${caller.channelId}/answer`,
    ]);
    caller.hangup();
  });

  it('silence fill: the caller hears a steady stream from the start, from the receiving socket (no strict-RTP drops)', async () => {
    rig.emu = await startAriEmulator();
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.received.length >= 10, 3000, 'silence frames');
    expect(caller.audibleMs()).toBe(0);
    expect(rig.emu.mediaEndpoints[0]!.stats.droppedStrict).toBe(0);
    expect(rig.emu.mediaEndpoints[0]!.stats.wrongFormat).toBe(0);
    expect(rig.emu.requestsTo('POST', /\/play$/)).toHaveLength(0); // bot speech goes as RTP, never /play
    expect(rig.emu.requestsTo('POST', /externalMedia$/)[0]!.query.format).toBe('ulaw'); // not slin16 (audio back is dropped)
    caller.hangup();
  });

  it('DTMF arrives as ChannelDtmfReceived and reaches the leg', async () => {
    rig.emu = await startAriEmulator();
    const digits: string[] = [];
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      leg.on('dtmf', (d) => digits.push(d));
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.received.length > 0, 3000, 'media up');
    caller.dtmf('0');
    caller.dtmf('#');
    await waitFor(() => digits.length === 2, 2000, 'digits');
    expect(digits).toEqual(['0', '#']);
    caller.hangup();
  });

  it('no app connected → 603; once the backend runs, calls are accepted; after stop → 603 again', async () => {
    rig.emu = await startAriEmulator();
    await expect(rig.emu.placeCall()).rejects.toBeInstanceOf(CallRejected);
    rig.t = await startTestBackend(rig.emu, async (leg) => {
      await new Promise<void>((resolve) => leg.on('hangup', () => resolve()));
    });
    const caller = await rig.emu.placeCall();
    await waitFor(() => caller.received.length > 0, 3000, 'answered');
    await rig.t.backend.stop();
    await caller.ended;
    await expect(rig.emu.placeCall()).rejects.toMatchObject({ sipStatus: 603 });
    rig.t = null;
  });
});

describe('ARI emulator bridge (smart bridge: 1:1 for two, softmix from three)', () => {
  it('softmix: every member gets the others’ mix each 20 ms, silence included; a burst beyond 4 intervals is flushed', async () => {
    const got = new Map<string, number[]>([
      ['a', []],
      ['b', []],
      ['c', []],
    ]);
    const member = (id: string) => ({
      id,
      muted: false,
      deliver: (u: Buffer) => got.get(id)!.push(peak(ulawDecode(u))),
    });
    const mixer = new SoftMixer(() => [member('a'), member('b'), member('c')]);
    mixer.start();
    const loud = ulawEncode(tone(20));
    for (let i = 0; i < 10; i++) mixer.feed('a', loud); // a burst: all but the last few are flushed
    await waitFor(() => got.get('c')!.length >= 12, 2000, '12 mixing intervals');
    mixer.stop();
    expect(mixer.flushed).toBe(5);
    expect(got.get('b')!.filter((p) => p > 1000)).toHaveLength(5);
    expect(got.get('a')!.every((p) => p === 0)).toBe(true); // nobody else talked: silence, still sent
    expect(got.get('a')!.length).toBeGreaterThanOrEqual(12);
  });
});
