/**
 * Media plane capacity on the product's own Asterisk RTP path: N `MediaLink`s (src/telephony/asterisk/media-link.ts,
 * what every Asterisk call runs: one UDP socket, strict RTP, jitter buffer with concealment on its own playout
 * clock, μ-law, the Pacer on the shared PacerGroup, silence fill) in this process, fed by a SEPARATE sender process
 * (bench/lib/rtp-sender.ts: N μ-law streams at 50 packets/s, as Asterisk's UnicastRTP channels would send them).
 * Each link plays back what it hears (caller frame out of the jitter buffer → link.send), so both directions carry
 * audio; the speech stack is not here (the edge benches measure it).
 *
 * Two runs: a clean network, and an impaired one (the sender drops, reorders, duplicates and delays packets, seeded;
 * MEDIA_LINK_IMPAIRMENT='{"loss":0.01,...}' changes it). N ramps; a step holds when
 *   - the send-time error p99 (send time − the frame's slot on the absolute clock) is ≤ 2 ms,
 *   - no pacer slot was skipped (bot → Asterisk) and no playout slot either (caller → bot),
 *   - every packet the sender put on the wire reached the bench and every bench packet reached the sender,
 *   - clean network only: nothing concealed and nothing late in the jitter buffer (impaired: reported, the network's).
 * `max_streams_*` is the largest N such that it AND every smaller step held; the ramp goes on past a failure (the
 * machine is shared) and the figure says where the first failure was. Streams per core by CPU time is N ÷ this
 * process's CPU use, the steadier figure on a shared machine.
 *
 * Where lateness comes from, per step: this process's garbage-collection pauses while measuring (`gcPauses`,
 * `gcPauseMs`, `gcPauseMaxMs`), the times the kernel took the CPU away from it (`preempted`: involuntary context
 * switches; on a shared machine these, not the work, make the tail) and how late the sender itself was
 * (`senderLateP99Ms`: a late sender delivers a burst).
 *
 * `sched` says which Linux scheduling policy the bench ran under: `other` (the default) or, when started with
 * `chrt -r <prio>` (the sender inherits it), `rr`: real-time priority, so other tenants of a shared machine cannot
 * take the CPU away. A figure measured that way is labelled as such and says how a dedicated host would do.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { mediaConfig } from '../src/media/config.js';
import { MediaLink } from '../src/telephony/asterisk/media-link.js';
import type { NetworkImpairment } from '../test/emulators/ari/impairment.js';
import { figure, percentile } from './lib/figure.js';
import { Sender } from './lib/sender-client.js';
import { sized } from './lib/smoke.js';

const BENCH = 'media-link';
const STEPS = (process.env.MEDIA_LINK_STEPS ?? sized('50,100,200,300,400,500,600', '10')).split(',').map(Number);
const WARMUP_MS = Number(process.env.MEDIA_LINK_WARMUP_MS ?? sized(1500, 300));
const MEASURE_MS = Number(process.env.MEDIA_LINK_MEASURE_MS ?? sized(4000, 600));
const P99_LIMIT_MS = 2;
const TARGET = 500;
const IMPAIRMENT: NetworkImpairment = process.env.MEDIA_LINK_IMPAIRMENT
  ? (JSON.parse(process.env.MEDIA_LINK_IMPAIRMENT) as NetworkImpairment)
  : { loss: 0.01, reorder: 0.02, duplicate: 0.005, jitterMs: 20, seed: 7 };
const media = mediaConfig.parse({});

let lates = new Float64Array(1 << 16);
let lateCount = 0;
let measuring = false;
function onSent(lateMs: number): void {
  if (!measuring) return;
  if (lateCount === lates.length) {
    const bigger = new Float64Array(lates.length * 2);
    bigger.set(lates);
    lates = bigger;
  }
  lates[lateCount++] = Math.abs(lateMs);
}

/** This process's scheduling policy (field 41 of /proc/self/stat), 'unknown' off Linux. */
function schedPolicy(): string {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    return ['other', 'fifo', 'rr', 'batch', 'iso', 'idle', 'deadline'][policy] ?? `policy ${policy}`;
  } catch {
    return 'unknown';
  }
}
const SCHED = schedPolicy();

/** GC pauses of this process while measuring, ms. */
const gcPauses: number[] = [];
new PerformanceObserver((list) => {
  if (measuring) for (const e of list.getEntries()) gcPauses.push(e.duration);
}).observe({ entryTypes: ['gc'] });

interface Totals {
  received: number;
  sent: number;
  concealed: number;
  late: number;
  overflow: number;
  skipped: number;
  playoutSkipped: number;
}

function totals(links: MediaLink[]): Totals {
  const t: Totals = { received: 0, sent: 0, concealed: 0, late: 0, overflow: 0, skipped: 0, playoutSkipped: 0 };
  for (const l of links) {
    const s = l.stats;
    t.received += s.rtp.received;
    t.sent += s.rtp.sent;
    t.concealed += s.jitter.concealed;
    t.late += s.jitter.late;
    t.overflow += s.jitter.overflowDropped;
    t.skipped += s.pacer.skipped;
    t.playoutSkipped += s.playoutSkipped;
  }
  return t;
}

const diff = (a: Totals, b: Totals) =>
  Object.fromEntries(Object.keys(a).map((k) => [k, b[k as keyof Totals] - a[k as keyof Totals]])) as unknown as Totals;

async function runStep(sender: Sender, senderPorts: number[], n: number, impairment: NetworkImpairment | null) {
  const metrics = new Registry();
  const links: MediaLink[] = [];
  for (let i = 0; i < n; i++) {
    const rtp = await MediaLink.open('127.0.0.1', 0, metrics);
    const link = new MediaLink(rtp, { media, metrics, onSent });
    // the bot speaks back what it hears: the return stream carries audio, not only silence fill
    link.on('audio', (frame) => link.send(frame));
    link.connect({ address: '127.0.0.1', port: senderPorts[i % senderPorts.length]! });
    links.push(link);
  }
  lateCount = 0;
  sender.command({
    type: 'start',
    host: '127.0.0.1',
    ports: links.map((l) => l.localPort),
    ...(impairment ? { impairment } : {}),
  });
  await sender.next('started');
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const before = totals(links);
  const cpu0 = process.cpuUsage();
  const preempted0 = process.resourceUsage().involuntaryContextSwitches;
  const t0 = performance.now();
  gcPauses.length = 0;
  measuring = true;
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  measuring = false;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const preempted = process.resourceUsage().involuntaryContextSwitches - preempted0;
  const during = diff(before, totals(links));
  // the sender stops first and reports 300 ms later: everything it sent has arrived or is lost
  sender.command({ type: 'stop' });
  const report = await sender.next('stopped');
  const expected = report.sent - report.impairedLost - report.impairedHeld + report.impairedDuplicated;
  const lostToBench = Math.max(0, expected - totals(links).received);
  // then our sends stop, and the sender counts what came back 300 ms later
  await Promise.all(links.map((l) => l.close()));
  const all = totals(links);
  sender.command({ type: 'count' });
  const lostToSender = Math.max(0, all.sent - (await sender.next('counted')).received);
  const sample = lates.subarray(0, lateCount);
  const p99 = percentile(sample, 0.99);
  const why: string[] = [];
  if (sample.length === 0) why.push('no frame sent');
  if (p99 > P99_LIMIT_MS) why.push(`send-time p99 ${p99.toFixed(2)} ms > ${P99_LIMIT_MS} ms`);
  if (during.skipped > 0) why.push(`${during.skipped} pacer slots skipped`);
  if (during.playoutSkipped > 0) why.push(`${during.playoutSkipped} playout slots skipped`);
  if (lostToBench > 0) why.push(`${lostToBench} packets lost on the way to the bench`);
  if (lostToSender > 0) why.push(`${lostToSender} packets lost on the way back`);
  if (!impairment && during.concealed + during.late + during.overflow > 0)
    why.push(`jitter buffer: ${during.concealed} concealed, ${during.late} late, ${during.overflow} overflow`);
  return {
    n,
    held: why.length === 0,
    why,
    p50: percentile(sample, 0.5),
    p99,
    max: percentile(sample, 1),
    frames: sample.length,
    cpuUtil: (cpu.user + cpu.system) / 1000 / wallMs,
    during,
    lostToBench,
    lostToSender,
    impairedLost: report.impairedLost,
    senderCpuUtil: report.cpuUtil,
    senderLateP99Ms: report.lateSendP99Ms,
    preempted,
    gcPauses: gcPauses.length,
    gcPauseMs: gcPauses.reduce((a, b) => a + b, 0),
    gcPauseMaxMs: Math.max(0, ...gcPauses),
  };
}

async function sweep(sender: Sender, senderPorts: number[], label: 'clean' | 'impaired'): Promise<void> {
  const impairment = label === 'impaired' ? IMPAIRMENT : null;
  let max = 0;
  let firstFailure: string | null = null;
  for (const n of STEPS) {
    const r = await runStep(sender, senderPorts, n, impairment);
    figure(BENCH, `send_late_p99_ms_${label}`, r.p99, 'ms', {
      streams: n,
      network: label,
      sched: SCHED,
      ...(impairment ? { impairment } : {}),
      held: r.held,
      why: r.why,
      p50: Number(r.p50.toFixed(3)),
      max: Number(r.max.toFixed(2)),
      frames: r.frames,
      benchCpuCores: Number(r.cpuUtil.toFixed(2)),
      streamsPerCoreByCpu: Math.round(n / Math.max(r.cpuUtil, 1e-6)),
      concealed: r.during.concealed,
      jbLate: r.during.late,
      jbOverflow: r.during.overflow,
      impairedLost: r.impairedLost,
      senderCpuCores: Number(r.senderCpuUtil.toFixed(2)),
      senderLateP99Ms: Number(r.senderLateP99Ms.toFixed(2)),
      preempted: r.preempted,
      gcPauses: r.gcPauses,
      gcPauseMs: Number(r.gcPauseMs.toFixed(1)),
      gcPauseMaxMs: Number(r.gcPauseMaxMs.toFixed(2)),
    });
    if (r.held && firstFailure === null) max = n;
    if (!r.held && firstFailure === null) firstFailure = `N=${n}: ${r.why.join('; ')}`;
    // this process is saturated: more streams only measure the queue
    if (r.cpuUtil > 0.95) break;
  }
  figure(BENCH, `max_streams_${label}`, max, 'streams', {
    network: label,
    sched: SCHED,
    ...(impairment ? { impairment } : {}),
    target: TARGET,
    criterion: `send-time p99 <= ${P99_LIMIT_MS} ms, no skipped slot, no loopback loss${impairment ? '' : ', nothing concealed or late'}; this step and every smaller one`,
    stopped: firstFailure ?? `all steps held (up to ${STEPS[STEPS.length - 1]})`,
    steps: STEPS.join(','),
    measureMs: MEASURE_MS,
    path: 'MediaLink (RtpSession, JitterBuffer + playout Pacer, μ-law, Pacer on the shared PacerGroup)',
  });
}

const sender = new Sender();
try {
  const ready = await sender.next('ready');
  await sweep(sender, ready.ports, 'clean');
  await sweep(sender, ready.ports, 'impaired');
} finally {
  await sender.close();
}
