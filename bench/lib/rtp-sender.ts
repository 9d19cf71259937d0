/**
 * RTP load generator for the media benches, run as a SEPARATE process (so the bench process measures only the
 * media plane): sends N μ-law streams at 50 packets/s each and counts what comes back. Controlled over the fork
 * IPC channel.
 *
 * Timing, as Asterisk's is: each stream gets its own phase in the 20 ms period, seeded uniform random. Asterisk
 * writes a channel's RTP from that channel's own bridge thread (bridge_channel.c: "Each channel does
 * writing/reading in their own thread") as the caller's phone delivers each frame, so the phases of different
 * calls are independent; an evenly spread grid would be kinder (no two streams ever due together). This process
 * wakes at most once a millisecond (Node timers), so the streams due in the same millisecond leave together.
 */
import { createSocket } from 'node:dgram';
import { mulberry32 } from '../../src/core/random.js';
import { mulawEncode } from '../../src/media/g711.js';
import { serializeRtp } from '../../src/media/rtp.js';
import { ImpairedLink, type NetworkImpairment } from '../../test/emulators/ari/impairment.js';

export type SenderCommand =
  /** `impairment`: what the network does to each stream on its way to the bench (seeded per stream) */
  | { type: 'start'; host: string; ports: number[]; impairment?: NetworkImpairment }
  | { type: 'stop' }
  /** after the bench stopped sending: what has arrived in all (answered 300 ms later) */
  | { type: 'count' }
  | { type: 'exit' };
export type SenderReport =
  /** `ports`: the source port of each socket; stream i is sent from socket i mod ports.length */
  | { type: 'ready'; ports: number[] }
  | { type: 'started' }
  | { type: 'counted'; received: number }
  | {
      type: 'stopped';
      sent: number;
      received: number;
      lateSendP99Ms: number;
      interarrivalJitterP99Ms: number;
      /** packets the impairment dropped / sent twice (they never left / left twice: not the bench's loss) */
      impairedLost: number;
      impairedDuplicated: number;
      /**
       * packets the impairment still holds back for reordering when the stream stops (its last packet had no
       * successor to swap with): they never left, so they are neither received nor lost
       */
      impairedHeld: number;
      /** This process's CPU time over the run ÷ wall time (1 = one core), to check it is not the bottleneck. */
      cpuUtil: number;
    };

const FRAME_MS = 20;
/**
 * Source sockets; each session locks to whichever one feeds it. Enough that their receive buffers together hold
 * the echoed traffic through a scheduling hiccup of this process (on a shared machine: tens of ms).
 */
const SOCKETS = 16;

// 50 frames of a 1 kHz + 300 Hz mix, μ-law, looped.
const payloads: Buffer[] = [];
for (let f = 0; f < 50; f++) {
  const pcm = new Int16Array(160);
  for (let i = 0; i < 160; i++) {
    const t = (f * 160 + i) / 8000;
    pcm[i] = 5000 * Math.sin(2 * Math.PI * 1000 * t) + 3000 * Math.sin(2 * Math.PI * 300 * t);
  }
  payloads.push(Buffer.from(mulawEncode(pcm)));
}

interface Stream {
  port: number;
  sent: number;
  seq: number;
  ssrc: number;
  socket: number;
  lastArrival: number;
  link: ImpairedLink | null;
}

const sockets = Array.from({ length: SOCKETS }, () => {
  const s = createSocket('udp4');
  return s;
});
let streams: Stream[] = [];
const byPort = new Map<number, Stream>();
let running = false;
let timer: NodeJS.Timeout | null = null;
let startAt = 0;
let sent = 0;
let received = 0;
const lateSends: number[] = [];
const jitters: number[] = [];
let host = '127.0.0.1';
let cpuAtStart = process.cpuUsage();
let wallAtStart = 0;

function p99(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
}

function onMessage(msg: Buffer, rinfo: { port: number }): void {
  const stream = byPort.get(rinfo.port);
  if (!stream || msg.length < 12) return;
  received++;
  const now = performance.now();
  if (stream.lastArrival > 0 && running) jitters.push(Math.abs(now - stream.lastArrival - FRAME_MS));
  stream.lastArrival = now;
}

/** Stream phases in the period, ascending, and the stream each belongs to (seeded: a run replays exactly). */
let phases: number[] = [];
let phaseOrder: number[] = [];
const PHASE_SEED = 15;

function placePhases(n: number): void {
  const rand = mulberry32(PHASE_SEED);
  const drawn = Array.from({ length: n }, (_, i) => ({ i, phase: rand() * FRAME_MS }));
  drawn.sort((a, b) => a.phase - b.phase);
  phases = drawn.map((d) => d.phase);
  phaseOrder = drawn.map((d) => d.i);
}

/** Packet k of the whole load goes to the (k mod N)-th stream by phase, due at its phase in period ⌊k / N⌋. */
let nextPacket = 0;
const dueAt = (k: number): number => Math.floor(k / phases.length) * FRAME_MS + phases[k % phases.length]!;

function tick(): void {
  if (!running) return;
  const n = streams.length;
  const now = performance.now();
  const elapsed = now - startAt;
  while (dueAt(nextPacket) <= elapsed) {
    const s = streams[phaseOrder[nextPacket % n]!]!;
    lateSends.push(elapsed - dueAt(nextPacket));
    const buf = serializeRtp({
      payloadType: 0,
      sequenceNumber: s.seq,
      timestamp: (s.sent * 160) >>> 0,
      ssrc: s.ssrc,
      payload: payloads[s.sent % 50]!,
    });
    if (s.link) s.link.push(buf);
    else sockets[s.socket]!.send(buf, s.port, host);
    s.seq = (s.seq + 1) & 0xffff;
    s.sent++;
    sent++;
    nextPacket++;
  }
  const wait = startAt + dueAt(nextPacket) - performance.now();
  timer = setTimeout(tick, Math.max(0, Math.floor(wait)));
}

function send(report: SenderReport): void {
  process.send?.(report);
}

process.on('message', (cmd: SenderCommand) => {
  if (cmd.type === 'start') {
    host = cmd.host;
    streams = cmd.ports.map((port, i) => ({
      port,
      sent: 0,
      seq: (i * 7919) & 0xffff,
      ssrc: (0x10000 + i) >>> 0,
      socket: i % SOCKETS,
      lastArrival: 0,
      link: cmd.impairment
        ? new ImpairedLink({ ...cmd.impairment, seed: (cmd.impairment.seed ?? 1) + i }, (buf) =>
            sockets[i % SOCKETS]!.send(buf, port, host),
          )
        : null,
    }));
    placePhases(streams.length);
    byPort.clear();
    for (const s of streams) byPort.set(s.port, s);
    sent = 0;
    received = 0;
    lateSends.length = 0;
    jitters.length = 0;
    nextPacket = 0;
    running = true;
    startAt = performance.now();
    cpuAtStart = process.cpuUsage();
    wallAtStart = startAt;
    tick();
    send({ type: 'started' });
  } else if (cmd.type === 'stop') {
    running = false;
    if (timer) clearTimeout(timer);
    timer = null;
    const cpu = process.cpuUsage(cpuAtStart);
    const cpuUtil = (cpu.user + cpu.system) / 1000 / Math.max(1, performance.now() - wallAtStart);
    // Let packets in flight land before counting.
    setTimeout(() => {
      send({
        type: 'stopped',
        sent,
        received,
        lateSendP99Ms: p99(lateSends),
        interarrivalJitterP99Ms: p99(jitters),
        impairedLost: streams.reduce((n, s) => n + (s.link?.stats.lost ?? 0), 0),
        impairedDuplicated: streams.reduce((n, s) => n + (s.link?.stats.duplicated ?? 0), 0),
        impairedHeld: streams.reduce((n, s) => n + (s.link?.holding ?? 0), 0),
        cpuUtil,
      });
    }, 300);
  } else if (cmd.type === 'count') {
    setTimeout(() => send({ type: 'counted', received }), 300);
  } else {
    for (const s of sockets) s.close();
    process.disconnect?.();
  }
});

let bound = 0;
for (const s of sockets) {
  s.on('message', onMessage);
  s.bind(0, '127.0.0.1', () => {
    s.setRecvBufferSize(4 * 1024 * 1024);
    s.setSendBufferSize(4 * 1024 * 1024);
    if (++bound === SOCKETS) send({ type: 'ready', ports: sockets.map((k) => k.address().port) });
  });
}
