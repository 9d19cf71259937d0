/**
 * Media plane capacity: N concurrent bidirectional RTP streams over loopback.
 * A separate sender process (bench/lib/rtp-sender.ts) sends N μ-law streams at 50 packets/s; this process runs,
 * per stream, the real media plane: RtpSession → JitterBuffer → μ-law decode → 8→16 kHz → 16→8 kHz → encode →
 * Pacer (all pacers on one PacerGroup timer) → RtpSession.send back from the same socket. The pacer callback only
 * encodes and sends; the DSP for the next frame is deferred out of the timer phase (see deferRefill). N ramps up;
 * a step passes when the pacer's send-time error p99 ≤ 2 ms and nothing is dropped anywhere. Reports max_streams (largest passing N), per-step
 * percentiles, and the CPU cost per stream-frame (less sensitive to a shared machine than the p99).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { mulawDecode, mulawEncode } from '../src/media/g711.js';
import { JitterBuffer } from '../src/media/jitter-buffer.js';
import { Pacer } from '../src/media/pacer.js';
import { PacerGroup } from '../src/media/pacer-group.js';
import { Resampler } from '../src/media/resampler.js';
import { RtpSession } from '../src/media/rtp-session.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';
import { Sender } from './lib/sender-client.js';

const BENCH = 'media';
/**
 * V8 flags for this process and the sender, as docs/readme/media.md recommends for a media process: a small young
 * generation keeps each scavenge short (median ~0.3–0.5 ms, max ~5 ms here, against ~1 ms and 10–50 ms at the
 * default size). MEDIA_BENCH_V8_FLAGS='' measures Node's defaults.
 */
const V8_FLAGS = process.env.MEDIA_BENCH_V8_FLAGS ?? '--max-semi-space-size=2';
const STEPS = (process.env.MEDIA_BENCH_STEPS ?? sized('100,200,400,600,800,1000', '20')).split(',').map(Number);
const WARMUP_MS = Number(process.env.MEDIA_BENCH_WARMUP_MS ?? sized(1500, 200));
const MEASURE_MS = Number(process.env.MEDIA_BENCH_MEASURE_MS ?? sized(4000, 500));
const JITTER_P99_LIMIT_MS = 2;
const TARGET = 500;
/**
 * Pacing mode: 'group' (default) drives every stream's pacer from one PacerGroup timer; 'timer' gives each pacer
 * its own timer (the per-call default), for comparison.
 */
const PACING = process.env.MEDIA_BENCH_PACING === 'timer' ? 'timer' : 'group';
const GROUP_SLOTS = Number(process.env.MEDIA_BENCH_GROUP_SLOTS ?? 10);
const group = PACING === 'group' ? new PacerGroup({ slotsPerFrame: GROUP_SLOTS }) : undefined;
/**
 * Optional scheduling priority (nice value, e.g. -10) for this process and the sender, as a media server would
 * run: on a shared machine, waits for a CPU otherwise dominate the p99. Reported with every figure.
 */
const PRIORITY = process.env.MEDIA_BENCH_PRIORITY ? Number(process.env.MEDIA_BENCH_PRIORITY) : null;

function applyPriority(pid: number): number | null {
  if (PRIORITY === null) return null;
  try {
    setPriority(pid, PRIORITY);
    return PRIORITY;
  } catch (err) {
    console.error(`media bench: cannot set priority ${PRIORITY}: ${(err as Error).message}`);
    return null;
  }
}

interface Stream {
  session: RtpSession;
  jitter: JitterBuffer;
  pacer: Pacer;
}

/** |send time − scheduled time| (ms) of pacer sends during the measurement window, across all streams. */
let lateBuf = new Float64Array(1 << 16);
let lateCount = 0;
let measuring = false;

function recordLate(ms: number): void {
  if (lateCount === lateBuf.length) {
    const bigger = new Float64Array(lateBuf.length * 2);
    bigger.set(lateBuf);
    lateBuf = bigger;
  }
  lateBuf[lateCount++] = ms;
}

/**
 * Work that is not time-critical (DSP for the next frame) is batched into one setImmediate: Node runs it after
 * the timers that are due, so a frame's send waits only for other sends, not for other streams' DSP.
 */
const refills: Array<() => void> = [];
let refillScheduled = false;

function runRefills(): void {
  refillScheduled = false;
  // Jobs only enqueue audio (they never defer more work), so the list can be walked and cleared in place.
  for (let i = 0; i < refills.length; i++) refills[i]!();
  refills.length = 0;
}

function deferRefill(job: () => void): void {
  refills.push(job);
  if (!refillScheduled) {
    refillScheduled = true;
    setImmediate(runRefills);
  }
}

async function openStream(): Promise<Stream> {
  const session = await RtpSession.open({ host: '127.0.0.1' });
  // recycleFrames: packets decode into pooled frames and each popped frame is resampled at once.
  const jitter = new JitterBuffer({ depthFrames: 3, frameSamples: 160, conceal: 'fade', recycleFrames: true });
  const up = new Resampler(8000, 16000);
  const down = new Resampler(16000, 8000);
  // Per-stream scratch buffers: the steady path allocates nothing of its own (dgram still allocates per packet).
  const wire = Buffer.alloc(160);
  const wide = new Int16Array(up.maxOutput(160));
  const narrow = new Int16Array(down.maxOutput(wide.length));
  const pacer = new Pacer({
    frameSamples: 160,
    silenceFill: true,
    reuseFrameBuffer: true,
    group,
    onFrame: (frame, info) => {
      if (measuring) recordLate(Math.abs(performance.now() - info.scheduledAt));
      mulawEncode(frame, wire);
      session.send(wire); // the packet is serialized (copied) into a pooled send buffer, so `wire` can be reused
      deferRefill(refill);
    },
  });
  // The next frame's DSP runs after the timer phase, so it never delays another stream's send.
  const refill = () => {
    const narrowband = jitter.pop();
    pacer.enqueue(down.process(up.process(narrowband, wide), narrow));
  };
  session.on('packet', (p) => {
    const payload = p.payload.length === 160 ? mulawDecode(p.payload, jitter.acquireFrame()) : mulawDecode(p.payload);
    jitter.push({ sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, payload });
    if (!pacer.isRunning) pacer.start(); // each call's clock starts with its first packet
  });
  return { session, jitter, pacer };
}

interface Counters {
  received: number;
  sent: number;
  rtpDropped: number;
  concealed: number;
  late: number;
  overflow: number;
  skipped: number;
}

function counters(streams: Stream[]): Counters {
  const c: Counters = { received: 0, sent: 0, rtpDropped: 0, concealed: 0, late: 0, overflow: 0, skipped: 0 };
  for (const s of streams) {
    const d = s.session.stats.dropped;
    c.received += s.session.stats.received;
    c.sent += s.session.stats.sent;
    c.rtpDropped += d.malformed + d.wrongSource + d.wrongPayloadType;
    c.concealed += s.jitter.stats.concealed;
    c.late += s.jitter.stats.late;
    c.overflow += s.jitter.stats.overflowDropped;
    c.skipped += s.pacer.stats.skipped;
  }
  return c;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function runStep(sender: Sender, n: number) {
  const streams: Stream[] = [];
  for (let i = 0; i < n; i++) streams.push(await openStream());
  lateCount = 0;
  sender.command({ type: 'start', host: '127.0.0.1', ports: streams.map((s) => s.session.localAddress.port) });
  await sender.next('started');
  await sleep(WARMUP_MS);
  const before = counters(streams);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  await sleep(MEASURE_MS);
  measuring = false;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const after = counters(streams);
  // Stop our sends first, then the sender's: it counts what arrives for 300 ms more, so every packet we sent is
  // in its count (stopping ours after its report would count our last milliseconds of sends as lost).
  for (const s of streams) {
    s.session.removeAllListeners('packet'); // or the next packet would restart the pacer
    s.pacer.stop();
  }
  const botSent = counters(streams).sent;
  sender.command({ type: 'stop' });
  const senderReport = await sender.next('stopped');
  const botReceived = counters(streams).received;
  await Promise.all(streams.map((s) => s.session.close()));

  const lates = lateBuf.subarray(0, lateCount);
  const p50 = percentile(lates, 0.5);
  const p99 = percentile(lates, 0.99);
  const lostToBot = senderReport.sent - botReceived;
  const lostToSender = Math.max(0, botSent - senderReport.received);
  const drops =
    after.rtpDropped -
    before.rtpDropped +
    (after.concealed - before.concealed) +
    (after.late - before.late) +
    (after.overflow - before.overflow) +
    (after.skipped - before.skipped) +
    Math.max(0, lostToBot) +
    lostToSender;
  const ok = p99 <= JITTER_P99_LIMIT_MS && drops === 0;
  return {
    n,
    ok,
    p50,
    p99,
    max: percentile(lates, 1),
    drops,
    detail: {
      concealed: after.concealed - before.concealed,
      jb_late: after.late - before.late,
      jb_overflow: after.overflow - before.overflow,
      pacer_skipped: after.skipped - before.skipped,
      rtp_dropped: after.rtpDropped - before.rtpDropped,
      lost_to_bot: lostToBot,
      lost_to_sender: lostToSender,
    },
    frames: lates.length,
    cpuUtil: (cpu.user + cpu.system) / 1000 / wallMs,
    // Per frame actually sent (each also means one packet received and processed), so skipped slots don't flatter it.
    cpuUsPerFrame: (cpu.user + cpu.system) / Math.max(1, lates.length),
    systemShare: cpu.system / Math.max(1, cpu.user + cpu.system),
    senderLateP99: senderReport.lateSendP99Ms,
    arrivalJitterP99: senderReport.interarrivalJitterP99Ms,
    senderCpuUtil: senderReport.cpuUtil,
  };
}

async function main(): Promise<void> {
  const sender = new Sender();
  await sender.next('ready');
  const priority = applyPriority(process.pid);
  applyPriority(sender.pid);
  let maxStreams = 0;
  let failedBelow = false;
  try {
    for (const n of STEPS) {
      const r = await runStep(sender, n);
      figure(BENCH, 'pacer_late_p50_ms', r.p50, 'ms', { streams: n, priority });
      figure(BENCH, 'pacer_late_p99_ms', r.p99, 'ms', {
        streams: n,
        priority,
        pass: r.ok,
        max_ms: Number(r.max.toFixed(2)),
        drops: r.drops,
        ...r.detail,
        frames: r.frames,
        bench_cpu_util: Number(r.cpuUtil.toFixed(2)),
        kernel_share_of_cpu: Number(r.systemShare.toFixed(2)),
        sender_late_p99_ms: Number(r.senderLateP99.toFixed(2)),
        sender_cpu_util: Number(r.senderCpuUtil.toFixed(2)),
        pacing: PACING,
        v8_flags: V8_FLAGS,
        arrival_interval_jitter_p99_ms: Number(r.arrivalJitterP99.toFixed(2)),
      });
      figure(BENCH, 'cpu_us_per_stream_frame', r.cpuUsPerFrame, 'us', {
        streams: n,
        streams_per_core_by_cpu: Math.round(1e6 / (r.cpuUsPerFrame * 50)),
      });
      // a step counts only if every smaller step held too: a pass after a failure is luck, not capacity
      if (r.ok && !failedBelow) maxStreams = n;
      if (!r.ok) failedBelow = true;
      // The machine is shared: a step can fail on a neighbour's burst, so keep ramping until this process
      // is saturated (or heavily loaded and losing audio) rather than stopping at the first miss.
      if (r.cpuUtil > 0.9 || (r.cpuUtil > 0.6 && r.drops > 0.05 * r.frames)) break;
    }
  } finally {
    await sender.close();
  }
  figure(BENCH, 'max_streams', maxStreams, 'streams', {
    target: TARGET,
    ratio_to_target: Number((maxStreams / TARGET).toFixed(2)),
    criteria: `pacer send lateness p99 <= ${JITTER_P99_LIMIT_MS} ms and no drops, at this step and every smaller one`,
    path: 'bench chain (RtpSession → JitterBuffer → DSP → Pacer), not MediaLink: see docs/benchmarks.md',
    steps: STEPS.join(','),
    measure_ms: MEASURE_MS,
    priority,
    pacing: PACING,
    v8_flags: V8_FLAGS,
  });
}

/** Re-runs this file with V8_FLAGS in NODE_OPTIONS (heap sizes are fixed at startup), unless they already are. */
async function relaunchWithFlags(): Promise<boolean> {
  const current = `${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`;
  if (!V8_FLAGS.trim() || current.includes(V8_FLAGS.trim())) return false;
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${V8_FLAGS}`.trim() },
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  process.exitCode = code ?? 1;
  return true;
}

if (!(await relaunchWithFlags())) await main();
