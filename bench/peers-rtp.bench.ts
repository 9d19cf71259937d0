/**
 * RTP parse and serialise, ours (src/media/rtp.ts, what every RtpSession runs per packet) vs `werift-rtp` (the RTP
 * package of werift, the TypeScript WebRTC stack): same process, interleaved rounds, ns per 172-byte μ-law packet,
 * ratio ours ÷ peer (< 1: ours faster). Both must read back what the other wrote (checked, counted in the figure).
 */
import { RtpHeader, RtpPacket } from 'werift-rtp';
import { parseRtp, serializeRtp } from '../src/media/rtp.js';
import { figure } from './lib/figure.js';
import { interleave, nsPer } from './lib/interleave.js';
import { sized } from './lib/smoke.js';

const BENCH = 'peers-rtp';
const ROUNDS = sized(9, 3);
const PACKETS = sized(50_000, 1000);

const payload = Buffer.from(Array.from({ length: 160 }, (_, i) => (i * 37) & 0xff));
const init = { payloadType: 0, sequenceNumber: 4242, timestamp: 123_456, ssrc: 0x1234abcd, marker: false, payload };
const wire = serializeRtp(init);
let sink = 0;

// interoperability: each reads the other's bytes to the same fields
const theirs = new RtpPacket(
  new RtpHeader({ payloadType: 0, sequenceNumber: 4242, timestamp: 123_456, ssrc: 0x1234abcd, marker: false }),
  payload,
).serialize();
const ourRead = parseRtp(theirs);
const theirRead = RtpPacket.deSerialize(wire);
const mismatches =
  Number(!theirs.equals(wire)) +
  Number(ourRead.sequenceNumber !== 4242 || ourRead.timestamp !== 123_456 || !ourRead.payload.equals(payload)) +
  Number(
    theirRead.header.sequenceNumber !== 4242 ||
      theirRead.header.ssrc !== 0x1234abcd ||
      !theirRead.payload.equals(payload),
  );

const cases = [
  {
    name: 'rtp_parse',
    ours: () => (sink += parseRtp(wire).sequenceNumber),
    peer: () => (sink += RtpPacket.deSerialize(wire).header.sequenceNumber),
  },
  {
    name: 'rtp_serialise',
    ours: () => (sink += serializeRtp(init).length),
    peer: () =>
      (sink += new RtpPacket(
        new RtpHeader({ payloadType: 0, sequenceNumber: 4242, timestamp: 123_456, ssrc: 0x1234abcd }),
        payload,
      ).serialize().length),
  },
];

for (const c of cases) {
  const r = await interleave(
    ROUNDS,
    () => nsPer(PACKETS, c.ours),
    () => nsPer(PACKETS, c.peer),
  );
  figure(BENCH, `${c.name}_ours_vs_werift`, r.ratioP50, 'ratio', {
    peer: 'werift-rtp',
    oursNsPerPacket: Math.round(r.oursP50),
    peerNsPerPacket: Math.round(r.peerP50),
    rounds: ROUNDS,
    packetsPerRound: PACKETS,
    packetBytes: wire.length,
    interopMismatches: mismatches,
    note: 'ratio < 1: ours faster',
  });
}
if (sink === 0.5) console.error('unreachable');
