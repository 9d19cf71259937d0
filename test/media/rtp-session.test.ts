import { createSocket } from 'node:dgram';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { telephoneEventPackets } from '../../src/media/dtmf.js';
import type { DtmfEvent } from '../../src/media/dtmf.js';
import { parseRtp, serializeRtp } from '../../src/media/rtp.js';
import type { RtpPacket } from '../../src/media/rtp.js';
import { RtpSession } from '../../src/media/rtp-session.js';
import { closeSocket, sendTo, udpPeer, waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function session(opts: Parameters<typeof RtpSession.open>[0] = {}): Promise<RtpSession> {
  const s = await RtpSession.open({ host: '127.0.0.1', ...opts });
  cleanup.push(() => s.close());
  return s;
}

async function peer() {
  const p = await udpPeer();
  cleanup.push(() => closeSocket(p.socket));
  return p;
}

/** An even port p such that p and p + 2 were both free a moment ago (the OS picks the neighbourhood). */
async function freeEvenPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const probe = createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const base = probe.address().port & ~1;
    await closeSocket(probe);
    if (base + 3 > 65535) continue;
    const sockets = [createSocket('udp4'), createSocket('udp4')];
    const bound = await Promise.all(
      sockets.map(
        (sock, i) =>
          new Promise<boolean>((resolve) => {
            sock.once('error', () => resolve(false));
            sock.bind(base + 2 * i, '127.0.0.1', () => resolve(true));
          }),
      ),
    );
    await Promise.all(sockets.map((sock) => closeSocket(sock))); // a failed bind still holds a handle
    if (bound.every(Boolean)) return base;
  }
  throw new Error('no free even port pair found');
}

const pcmu = (seq: number, ssrc = 0x1111, pt = 0) =>
  serializeRtp({ payloadType: pt, sequenceNumber: seq, timestamp: seq * 160, ssrc, payload: Buffer.alloc(160, 0xff) });

describe('RtpSession', () => {
  it('receives, learns the remote, and sends back from the SAME socket with running seq/timestamp', async () => {
    const s = await session();
    const asterisk = await peer();
    const got: RtpPacket[] = [];
    s.on('packet', (p) => got.push(p));
    expect(s.remote).toBeNull();
    await sendTo(asterisk.socket, pcmu(1), s.localAddress.port);
    await waitFor(() => got.length === 1, 2000, 'first packet');
    expect(got[0]!.sequenceNumber).toBe(1);
    expect(s.remote).toEqual({ address: '127.0.0.1', port: asterisk.port });

    for (let i = 0; i < 3; i++) s.send(Buffer.alloc(160, 0xff), { marker: i === 0 });
    await waitFor(() => asterisk.received.length === 3, 2000, 'echoed packets');
    // Strict RTP: every packet comes from the port Asterisk sends to.
    expect(asterisk.received.every((r) => r.port === s.localAddress.port)).toBe(true);
    const sent = asterisk.received.map((r) => parseRtp(r.msg));
    expect(sent.map((p) => (p.sequenceNumber - sent[0]!.sequenceNumber) & 0xffff)).toEqual([0, 1, 2]);
    expect(sent.map((p) => (p.timestamp - sent[0]!.timestamp) >>> 0)).toEqual([0, 160, 320]);
    expect(new Set(sent.map((p) => p.ssrc)).size).toBe(1);
    expect(sent.map((p) => p.marker)).toEqual([true, false, false]);
    expect(s.stats).toMatchObject({ received: 1, sent: 3 });
  });

  it('writes packets byte-identical to serializeRtp, each with its own payload even when sent in one burst', async () => {
    const s = await session();
    const far = await peer();
    s.remote = { address: '127.0.0.1', port: far.port };
    const seq0 = s.nextTimestamp;
    for (let i = 0; i < 20; i++) s.send(Buffer.alloc(160, i), { marker: i === 0 });
    s.sendRaw(101, Buffer.from([1, 0x8a, 0, 160]), { marker: true, timestamp: 12345 });
    expect(() => s.sendRaw(128, Buffer.alloc(4))).toThrow(RangeError);
    await waitFor(() => far.received.length === 21, 2000, 'burst');
    const first = parseRtp(far.received[0]!.msg);
    far.received.forEach(({ msg }, i) => {
      const audio = i < 20;
      const expected = serializeRtp({
        payloadType: audio ? 0 : 101,
        sequenceNumber: (first.sequenceNumber + i) & 0xffff,
        timestamp: audio ? (seq0 + i * 160) >>> 0 : 12345,
        ssrc: s.ssrc,
        marker: i === 0 || !audio,
        payload: audio ? Buffer.alloc(160, i) : Buffer.from([1, 0x8a, 0, 160]),
      });
      expect(msg.equals(expected)).toBe(true);
    });
  });

  it('locks to the first source: counts and drops packets from another one', async () => {
    const metrics = new Registry();
    const s = await session({ metrics });
    const a = await peer();
    const b = await peer();
    const got: RtpPacket[] = [];
    s.on('packet', (p) => got.push(p));
    await sendTo(a.socket, pcmu(1), s.localAddress.port);
    await waitFor(() => got.length === 1);
    await sendTo(b.socket, pcmu(50, 0x2222), s.localAddress.port);
    await sendTo(a.socket, pcmu(2), s.localAddress.port);
    await waitFor(() => got.length === 2 && s.stats.dropped.wrongSource === 1, 2000, 'drop + second packet');
    expect(got.map((p) => p.ssrc)).toEqual([0x1111, 0x1111]);
    expect(s.remote!.port).toBe(a.port);
    expect(await metrics.getSingleMetricAsString('voicebot_rtp_dropped_total')).toMatch(/reason="wrongSource"} 1/);
  });

  it('accepts any source when lockToFirstSource is false (remote stays the first)', async () => {
    const s = await session({ lockToFirstSource: false });
    const a = await peer();
    const b = await peer();
    const got: RtpPacket[] = [];
    s.on('packet', (p) => got.push(p));
    await sendTo(a.socket, pcmu(1), s.localAddress.port);
    await waitFor(() => got.length === 1);
    await sendTo(b.socket, pcmu(7, 0x2222), s.localAddress.port);
    await waitFor(() => got.length === 2);
    expect(s.stats.dropped.wrongSource).toBe(0);
    expect(s.stats.ssrcChanges).toBe(1);
    expect(s.remote!.port).toBe(a.port);
  });

  it('counts and drops malformed packets and unexpected payload types without locking to them', async () => {
    const s = await session();
    const bad = await peer();
    const good = await peer();
    const got: RtpPacket[] = [];
    s.on('packet', (p) => got.push(p));
    await sendTo(bad.socket, Buffer.from('not rtp at all'), s.localAddress.port);
    await sendTo(bad.socket, Buffer.alloc(5), s.localAddress.port);
    await sendTo(bad.socket, pcmu(1, 0x3333, 13), s.localAddress.port); // comfort noise
    await waitFor(() => s.stats.dropped.malformed === 2 && s.stats.dropped.wrongPayloadType === 1);
    await sendTo(good.socket, pcmu(1), s.localAddress.port);
    await waitFor(() => got.length === 1);
    expect(s.source!.port).toBe(good.port);
    expect(s.stats.received).toBe(1);
  });

  it('turns RFC 4733 packets into one dtmf event per digit', async () => {
    const s = await session();
    const a = await peer();
    const digits: DtmfEvent[] = [];
    s.on('dtmf', (e) => digits.push(e));
    let seq = 10;
    for (const [ts, digit] of [
      [8000, '4'],
      [16000, '#'],
    ] as const) {
      for (const p of telephoneEventPackets(digit)) {
        const buf = serializeRtp({
          payloadType: 101,
          marker: p.marker,
          sequenceNumber: seq++,
          timestamp: ts,
          ssrc: 9,
          payload: p.payload,
        });
        await sendTo(a.socket, buf, s.localAddress.port);
      }
    }
    await waitFor(() => s.stats.received === 14, 2000, 'all dtmf packets');
    expect(digits.map((d) => d.digit)).toEqual(['4', '#']);
  });

  it('sends nothing before it knows a remote, and uses a given remote at once', async () => {
    const s = await session();
    s.send(Buffer.alloc(160));
    expect(s.stats.unsentNoRemote).toBe(1);
    const a = await peer();
    const s2 = await session({ remote: { address: '127.0.0.1', port: a.port } });
    s2.send(Buffer.alloc(160));
    await waitFor(() => a.received.length === 1);
    expect(a.received[0]!.port).toBe(s2.localAddress.port);
  });

  it('a packet sent to an IP literal leaves inside send(): the last one before close() is not lost', async () => {
    const far = await peer();
    const s = await RtpSession.open({ host: '127.0.0.1', remote: { address: '127.0.0.1', port: far.port } });
    s.send(Buffer.alloc(160, 0x55));
    await s.close(); // closes the socket now: a send still waiting for the next tick would be dropped
    await waitFor(() => far.received.length === 1, 2000, 'the packet sent before close');
    expect(parseRtp(far.received[0]!.msg).payload.equals(Buffer.alloc(160, 0x55))).toBe(true);
  });

  it('still resolves a remote given by name', async () => {
    const far = await peer();
    const s = await session({ remote: { address: 'localhost', port: far.port } });
    s.send(Buffer.alloc(160, 0x66));
    await waitFor(() => far.received.length === 1, 2000, 'the packet sent to localhost');
    expect(parseRtp(far.received[0]!.msg).payload.equals(Buffer.alloc(160, 0x66))).toBe(true);
  });

  it('picks free even ports from a range and releases them on close', async () => {
    const base = await freeEvenPortPair();
    const range: [number, number] = [base, base + 3];
    const a = await RtpSession.open({ host: '127.0.0.1', portRange: range });
    const b = await RtpSession.open({ host: '127.0.0.1', portRange: range });
    expect(new Set([a.localAddress.port, b.localAddress.port])).toEqual(new Set([base, base + 2]));
    await expect(RtpSession.open({ host: '127.0.0.1', portRange: range })).rejects.toThrow(/no free RTP port/);
    const freed = a.localAddress.port;
    await a.close();
    const c = await RtpSession.open({ host: '127.0.0.1', portRange: range });
    expect(c.localAddress.port).toBe(freed);
    await b.close();
    await c.close();
    expect(c.isClosed).toBe(true);
  });

  it('closes on abort (per-call signal) and removes its listeners; an aborted open rejects', async () => {
    const ac = new AbortController();
    const s = await RtpSession.open({ host: '127.0.0.1', signal: ac.signal });
    s.on('packet', () => undefined);
    const port = s.localAddress.port;
    ac.abort();
    await s.close();
    expect(s.isClosed).toBe(true);
    expect(s.listenerCount('packet')).toBe(0);
    // The port is free again.
    const again = await RtpSession.open({ host: '127.0.0.1', port });
    await again.close();
    await expect(RtpSession.open({ host: '127.0.0.1', signal: AbortSignal.abort() })).rejects.toThrow();
  });
});
