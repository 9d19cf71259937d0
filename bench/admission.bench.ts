/**
 * Memory per concurrent call and admission under a flood, measured on the product: `voicebot start` runs in its own
 * process with the jambonz backend (cap telephony.maxConcurrentCalls = CAP); this process is jambonz (the emulator)
 * and the attacker.
 *
 * 1. Memory: RSS of the bot process (/proc/PID/status VmRSS) and its native VAD sessions (/metrics) idle (one
 *    prewarmed VAD session), with 10/50/100 concurrent calls streaming caller audio (simulated: quiet line noise), and
 *    after they hang up.
 * 2. Flood: with the cap full of live calls, FLOOD signed call webhooks (FLOOD_CONCURRENCY in flight) must each be
 *    declined (sip:decline 503): latency of every refusal, refusal count, RSS peak during the flood, RSS after.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signWebhook } from '../jambonz-adapter/src/signature.js';
import { startJambonzEmulator } from '../test/emulators/jambonz/index.js';
import type { EmulatedCall } from '../test/emulators/jambonz/call.js';
import { STUB_WHISPER_REL } from '../test/helpers/fixtures.js';
import { freePort } from '../test/helpers/redis.js';
import { waitFor } from '../test/helpers/wait.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'admission';
const LEVELS = sized([10, 50, 100], [2]);
const CAP = Math.max(...LEVELS);
const FLOOD = sized(1000, 20);
const FLOOD_CONCURRENCY = sized(100, 5);
const SECRET = 'bench-webhook-secret';
const AUTH = { username: 'jambonz', password: 'bench-ws-password' };
const ROOT = resolve(import.meta.dirname, '..');

const dir = mkdtempSync(join(tmpdir(), 'vb-bench-admission-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const configPath = join(dir, 'voicebot.yaml');
writeFileSync(
  configPath,
  `log:
  level: warn
  format: json
web:
  port: ${port}
  publicUrl: ${base}
  limits:
    maxConnections: 5000
telephony:
  backend: jambonz
  maxConcurrentCalls: ${CAP}
  jambonz:
    webhookSecret: ${SECRET}
    wsUsername: ${AUTH.username}
    wsPassword: ${AUTH.password}
speech:
  vad:
    prewarmSessions: 1
  asr:
    whisperCpp:
      modelPath: ${STUB_WHISPER_REL}
crm:
  sinks:
    - type: file
      path: ${join(dir, 'tickets.jsonl')}
  outbox:
    dir: ${join(dir, 'outbox')}
`,
);

const bot = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', configPath], {
  cwd: ROOT,
  stdio: ['ignore', 'ignore', 'inherit'],
});
const stopBot = () => bot.exitCode === null && bot.kill('SIGTERM');
process.on('exit', stopBot);

const rssMb = (): number => {
  const status = readFileSync(`/proc/${bot.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
};
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}
const vadFigures = async () => ({
  nativeSessions: await metric('voicebot_vad_instances_total'),
  sessionsInUse: await metric('voicebot_vad_sessions_in_use'),
});

await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok === true, 60_000, 'bot up', 100);
const emu = await startJambonzEmulator({
  appUrl: `${base}/jambonz`,
  mode: 'webhook',
  webhookSecret: SECRET,
  wsApiAuth: AUTH,
});

const idle = rssMb();
figure(BENCH, 'rss_idle', idle, 'MB', await vadFigures());

/**
 * Caller audio streamed in real time until the call ends. Quiet line noise, not speech: the VAD model runs on every
 * window of every call, ASR does not (100 concurrent recognitions would measure this 2-core host, not memory).
 */
const talk = (call: EmulatedCall) => {
  const noise = new Int16Array(16_000).map(() => Math.round((Math.random() - 0.5) * 60));
  void (async () => {
    while (!call.ended) await call.sendAudio(noise, 16_000, { speed: 1 });
  })();
};

async function placeActive(n: number): Promise<EmulatedCall[]> {
  const calls = await Promise.all(
    Array.from({ length: n }, (_, i) => emu.placeCall({ from: `+1555${String(i).padStart(7, '0')}`, to: '100' })),
  );
  await Promise.all(calls.map((c) => c.audioReady(60_000)));
  calls.forEach(talk);
  await waitFor(async () => (await metric('voicebot_vad_sessions_in_use')) === n, 60_000, `${n} calls running`, 50);
  return calls;
}

async function hangUpAll(calls: EmulatedCall[]): Promise<void> {
  await Promise.all(calls.map((c) => c.hangup()));
  await waitFor(async () => (await metric('voicebot_calls_admitted_active')) === 0, 60_000, 'all released', 50);
}

for (const n of LEVELS) {
  const calls = await placeActive(n);
  const rss = rssMb();
  figure(BENCH, 'rss_with_calls', rss, 'MB', { calls: n, ...(await vadFigures()) });
  figure(BENCH, 'rss_per_call', (rss - idle) / n, 'MB', { calls: n, over: 'idle' });
  await hangUpAll(calls);
  figure(BENCH, 'rss_after_release', rssMb(), 'MB', { calls: n, ...(await vadFigures()) });
}

// ---- flood: the cap is full of live calls; every further call must be refused, fast
const live = await placeActive(CAP);
const refusedBefore = await metric('voicebot_calls_refused_total');
let peak = rssMb();
const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 50);
const latencies: number[] = [];
let declined = 0;
let other = 0;
let next = 0;
async function attacker(): Promise<void> {
  while (next < FLOOD) {
    const i = next++;
    const body = JSON.stringify({ call_sid: `flood-${i}`, from: `+1999${i}`, to: '100', direction: 'inbound' });
    const t0 = performance.now();
    const res = await fetch(`${base}/jambonz/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'jambonz-signature': signWebhook(SECRET, body) },
      body,
    });
    const verbs = (await res.json()) as Array<{ verb: string; status?: number }>;
    latencies.push(performance.now() - t0);
    if (verbs[0]?.verb === 'sip:decline' && verbs[0].status === 503) declined++;
    else other++;
  }
}
const floodStart = performance.now();
await Promise.all(Array.from({ length: FLOOD_CONCURRENCY }, attacker));
const floodMs = performance.now() - floodStart;
clearInterval(sampler);
const refused = (await metric('voicebot_calls_refused_total')) - refusedBefore;
const stats = {
  flood: FLOOD,
  inFlight: FLOOD_CONCURRENCY,
  cap: CAP,
  declined,
  admitted: other,
  refusedCounted: refused,
};
figure(BENCH, 'refusal_latency_p50', percentile(latencies, 0.5), 'ms', stats);
figure(BENCH, 'refusal_latency_p95', percentile(latencies, 0.95), 'ms', stats);
figure(BENCH, 'refusal_latency_p99', percentile(latencies, 0.99), 'ms', stats);
figure(BENCH, 'refusal_latency_max', Math.max(...latencies), 'ms', stats);
figure(BENCH, 'flood_rate', FLOOD / (floodMs / 1000), 'calls/s', stats);
figure(BENCH, 'rss_peak_during_flood', peak, 'MB', { ...stats, ...(await vadFigures()) });
await hangUpAll(live);
figure(BENCH, 'rss_after_flood', rssMb(), 'MB', { ...stats, ...(await vadFigures()) });

await emu.close();
stopBot();
