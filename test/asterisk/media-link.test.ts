/**
 * The Asterisk media path (MediaLink) on a manual clock: caller RTP goes through the jitter buffer, and every
 * documented `media` setting changes what comes out.
 */
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { mediaConfig, type MediaConfig } from '../../src/media/config.js';
import { mulawEncode } from '../../src/media/g711.js';
import { PacerGroup } from '../../src/media/pacer-group.js';
import type { RtpPacket } from '../../src/media/rtp.js';
import type { RtpSession } from '../../src/media/rtp-session.js';
import { MediaLink } from '../../src/telephony/asterisk/media-link.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Stands in for the UDP socket: packets are handed in by the test, sends are counted. */
class FakeRtp extends EventEmitter {
  sent = 0;
  remote: unknown = null;
  source: unknown = null;
  readonly localAddress = { address: '127.0.0.1', port: 1 };
  readonly stats = {};
  send(): void {
    this.sent++;
  }
  async close(): Promise<void> {}
}

/** Frame n carries the constant level (n + 1) × 200: which frame came out is readable from any sample. */
function level(n: number): number {
  return (n + 1) * 200;
}

function packet(n: number): RtpPacket {
  const pcm = new Int16Array(160).fill(level(n));
  return {
    version: 2,
    padding: false,
    extension: false,
    marker: false,
    payloadType: 0,
    sequenceNumber: (1000 + n) & 0xffff,
    timestamp: n * 160,
    ssrc: 1,
    csrcs: [],
    payload: Buffer.from(mulawEncode(pcm)),
  } as RtpPacket;
}

function rig(media: Partial<MediaConfig> = {}) {
  const clock = new FakeClock();
  const group = new PacerGroup({ now: clock.now, timers: clock, slotsPerFrame: 1 });
  const rtp = new FakeRtp();
  const metrics = new Registry();
  const link = new MediaLink(rtp as unknown as RtpSession, {
    media: mediaConfig.parse(media),
    metrics,
    group,
  });
  const out: Int16Array[] = [];
  link.on('audio', (f) => out.push(f));
  link.connect({ address: '127.0.0.1', port: 2 });
  clock.advanceTo(clock.t + 20); // the pacers' first slots: nothing has arrived yet
  /** one 20 ms slot: `arrive` packets reach the socket, then the clock moves on */
  const slot = (...arrive: number[]) => {
    for (const n of arrive) rtp.emit('packet', packet(n));
    clock.advanceTo(clock.t + 20);
  };
  return { clock, rtp, link, out, slot, metrics };
}

/** Which frame each output is (by level, μ-law rounding allowed), 0 for silence, -1 for anything else. */
function ids(frames: Int16Array[]): number[] {
  return frames.map((f) => {
    if (f.every((s) => s === 0)) return 0;
    const n = Math.round(f[0]! / 200) - 1;
    return Math.abs(f[0]! - level(n)) <= level(n) * 0.05 ? n + 1 : -1;
  });
}

describe('MediaLink: caller audio through the jitter buffer', () => {
  it('a reordered pair comes out in order, with nothing concealed or dropped', async () => {
    const { link, out, slot } = rig();
    const order = [0, 1, 3, 2, 4, 5, 7, 6, 8, 9, 10, 11];
    for (const n of order) slot(n);
    for (let i = 0; i < 5 && !ids(out).includes(12); i++) slot();
    const heard = ids(out).filter((x) => x > 0);
    expect(heard).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(link.stats.jitter.concealed).toBe(0);
    expect(link.stats.jitter.late).toBe(0);
    await link.close();
  });

  it('voicebot_rtp_stream_packets_total counts lost, late, duplicate and reordered caller packets', async () => {
    const { link, slot, metrics } = rig({ jitterBufferFrames: 2 });
    const kinds = async () => {
      const m = await metrics.getSingleMetric('voicebot_rtp_stream_packets_total')!.get();
      return Object.fromEntries(m.values.map((v) => [v.labels.kind, v.value]));
    };
    // 3 before 2 (reordered), 5 twice (duplicate), 7 never (lost), 1 again long after its slot (late)
    for (const n of [0, 1, 3, 2, 4, 5, 5, 6, 8, 9, 1, 10, 11]) slot(n);
    for (let i = 0; i < 3; i++) slot(12 + i);
    expect(await kinds()).toEqual({ lost: 1, late: 1, duplicate: 1, reordered: 1 });
    // a clean stream adds nothing
    const clean = rig();
    for (let n = 0; n < 20; n++) clean.slot(n);
    const values = (await clean.metrics.getSingleMetric('voicebot_rtp_stream_packets_total')!.get()).values;
    expect(values.every((v) => v.value === 0)).toBe(true);
    await link.close();
    await clean.link.close();
  });

  it('a duplicate is played once and counted', async () => {
    const { link, out, slot } = rig();
    for (const n of [0, 1, 1, 2, 3, 4]) slot(n);
    for (let i = 0; i < 5; i++) slot();
    expect(ids(out).filter((x) => x > 0)).toEqual([1, 2, 3, 4, 5]);
    expect(link.stats.jitter.duplicates).toBe(1);
    await link.close();
  });

  it('jitterBufferFrames: playout starts that many frames after the first packet', async () => {
    const firstAudioSlot = async (jitterBufferFrames: number) => {
      const { link, out, slot } = rig({ jitterBufferFrames, jitterMaxFrames: 20 });
      for (let n = 0; n < 12; n++) slot(n);
      const at = ids(out).findIndex((x) => x > 0);
      await link.close();
      return at;
    };
    const shallow = await firstAudioSlot(1);
    const deep = await firstAudioSlot(6);
    expect(deep - shallow).toBe(5);
  });

  it('jitterMaxFrames: a burst beyond it is cut to bound the delay', async () => {
    const burst = async (jitterMaxFrames: number) => {
      const { link, slot } = rig({ jitterBufferFrames: 3, jitterMaxFrames });
      slot(...Array.from({ length: 40 }, (_, n) => n));
      for (let i = 0; i < 60; i++) slot();
      const dropped = link.stats.jitter.overflowDropped;
      await link.close();
      return dropped;
    };
    expect(await burst(50)).toBe(0);
    expect(await burst(10)).toBeGreaterThanOrEqual(25);
  });

  it('concealment: a lost packet is the last frame faded (fade) or silence (silence)', async () => {
    const gap = async (concealment: 'fade' | 'silence') => {
      const { link, out, slot } = rig({ concealment });
      for (const n of [0, 1, 2, 3, 5, 6, 7, 8]) slot(n); // 4 is lost
      for (let i = 0; i < 5; i++) slot();
      const i = ids(out).indexOf(4); // frame 3 (level 800), then the gap
      await link.close();
      expect(ids(out)[i + 2]).toBe(6); // frame 5 plays in its own slot
      return out[i + 1]!;
    };
    const faded = await gap('fade');
    expect(faded[0]).toBeGreaterThan(300);
    expect(faded[0]).toBeLessThan(500);
    expect((await gap('silence')).every((s) => s === 0)).toBe(true);
  });

  it('pacerMaxCatchUpFrames: after an event-loop stall at most that many frames are sent at once', async () => {
    const afterStall = async (pacerMaxCatchUpFrames: number) => {
      const { link, rtp, clock, slot } = rig({ pacerMaxCatchUpFrames });
      slot();
      const before = rtp.sent;
      clock.stall(400); // 20 slots missed
      clock.advanceTo(clock.t + 1);
      const burst = rtp.sent - before;
      await link.close();
      return burst;
    };
    expect(await afterStall(2)).toBeLessThanOrEqual(3);
    expect(await afterStall(20)).toBeGreaterThanOrEqual(15);
  });

  it('silenceFill: a steady stream with nothing to say only when on', async () => {
    const sentIn = async (silenceFill: boolean) => {
      const { link, rtp, slot } = rig({ silenceFill });
      for (let i = 0; i < 10; i++) slot();
      await link.close();
      return rtp.sent;
    };
    expect(await sentIn(true)).toBeGreaterThanOrEqual(9);
    expect(await sentIn(false)).toBe(0);
  });

  it('frames outlive buffer reuse: each played (bot) and audio (caller) frame keeps its own samples', async () => {
    const { link, out, slot } = rig();
    const played: Int16Array[] = [];
    link.on('played', (f) => played.push(f));
    // three bot frames in one call: the pacer cuts them out of its queue into one reused frame buffer
    link.send(Int16Array.from({ length: 480 }, (_, i) => level(Math.floor(i / 160))));
    for (let n = 0; n < 8; n++) slot(n);
    expect(ids(played).filter((x) => x > 0)).toEqual([1, 2, 3]);
    // caller frames handed out earlier still hold their own audio after later ones were played
    expect(ids(out).filter((x) => x > 0)).toEqual(
      ids(out)
        .filter((x) => x > 0)
        .map((_, i) => i + 1),
    );
    expect(ids(out).filter((x) => x > 0).length).toBeGreaterThanOrEqual(5);
    await link.close();
  });

  it('stamps: a caller frame keeps its RTP time through the jitter buffer, a loss and a stall; a bot frame its send time', async () => {
    const { link, rtp, clock, slot } = rig({ concealment: 'silence' }); // a faded frame would read as another
    const heard: Array<{ id: number; at: number }> = [];
    link.on('audio', (f, at) => heard.push({ id: ids([f])[0]!, at }));
    const played: Array<{ id: number; at: number }> = [];
    link.on('played', (f, at) => played.push({ id: ids([f])[0]!, at }));
    const origin = clock.t; // packet 0 arrives in this slot: media time 0
    for (let n = 0; n < 8; n++) slot(n);
    slot(); // packet 8 is lost
    for (let n = 9; n < 12; n++) slot(n);
    // a 300 ms stall: the receive side gets 15 packets at once when it ends, the playout clock skips slots
    link.send(Int16Array.from({ length: 480 }, (_, i) => level(Math.floor(i / 160))));
    clock.stall(300);
    for (let n = 12; n < 27; n++) rtp.emit('packet', packet(n));
    for (let i = 0; i < 30; i++) slot();
    await link.close();
    // every caller frame sits at origin + its RTP time, whenever it came out; the lost one in its own slot
    const real = heard.filter((h) => h.id > 0);
    expect(real.length).toBeGreaterThanOrEqual(15); // some of the burst is cut (jitterMaxFrames): a gap too
    // (levels above frame 12's read ±1 frame through μ-law)
    for (const h of real) expect(Math.abs((h.at - origin) / 20 - (h.id - 1))).toBeLessThanOrEqual(h.id <= 12 ? 0 : 1);
    for (let i = 1; i < real.length; i++) expect((real[i]!.at - real[i - 1]!.at) % 20).toBe(0);
    // the frames the full jitter buffer cut (after 10) leave their gap
    expect(real.find((h) => h.id > 11)!.at - origin).toBeGreaterThan(11 * 20);
    const concealed = heard.findIndex((h) => h.id === 8) + 1; // after frame 7 (level 1600)
    expect(heard[concealed]!.at - origin).toBeCloseTo(8 * 20, 6);
    // the bot's frames that a stalled loop sent late are stamped when they went out, one after another in order
    const bot = played.filter((p) => p.id > 0);
    expect(bot.map((p) => p.id)).toEqual([1, 2, 3]);
    expect(bot[0]!.at).toBeGreaterThanOrEqual(origin + 12 * 20 + 300);
    for (let i = 1; i < played.length; i++) expect(played[i]!.at).toBeGreaterThanOrEqual(played[i - 1]!.at);
  });

  it('hold: music on hold arriving on the leg is never heard as the caller', async () => {
    const { link, out, slot } = rig();
    for (let n = 0; n < 5; n++) slot(n);
    const before = ids(out).filter((x) => x > 0).length;
    link.hold(true);
    for (let n = 5; n < 30; n++) slot(n);
    expect(ids(out).filter((x) => x > 0).length).toBe(before);
    await link.close();
  });
});
