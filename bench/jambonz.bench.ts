/**
 * jambonz adapter under load: CALLS concurrent calls through the real HTTP webhooks + listen sockets (emulator on the
 * same host). Caller → bot: latency from a frame's due time at the emulator to the leg's 'audio' event.
 * Bot → caller: a prompt's waitForPlayout (mark playout) minus its length. CPU: process CPU per call-second of audio.
 */
import { createLogger } from '../src/log/logger.js';
import { createMetrics } from '../src/core/metrics.js';
import { telephonyConfig } from '../src/telephony/config.js';
import { createWebServer } from '../src/web/server.js';
import { createJambonzBackend, registerJambonz } from '../jambonz-adapter/src/index.js';
import type { JambonzCallLeg } from '../jambonz-adapter/src/call-leg.js';
import { startJambonzEmulator } from '../test/emulators/jambonz/index.js';
import { figure, percentile } from './lib/figure.js';
import { sized } from './lib/smoke.js';

const BENCH = 'jambonz';
const CALLS = Number(process.env.JAMBONZ_BENCH_CALLS ?? sized(20, 2));
const SECONDS = Number(process.env.JAMBONZ_BENCH_SECONDS ?? sized(5, 1));
const RATE = 16000;
const FRAME = RATE / 50;

const logger = createLogger({ level: 'silent', format: 'json', redactPhoneNumbers: false });
const metrics = createMetrics(false);
const config = telephonyConfig.parse({ backend: 'jambonz', jambonz: { webhookSecret: 'bench' } }).jambonz!;
const backend = createJambonzBackend(config, { logger, metrics });
const web = await createWebServer({ logger, metrics });
await registerJambonz(web, { backend });
const appUrl = `${await web.listen({ host: '127.0.0.1', port: 0 })}/jambonz`;

const latencies: number[] = [];
const playoutOverhead: number[] = [];
const legs: JambonzCallLeg[] = [];
await backend.start(async (leg) => {
  legs.push(leg as JambonzCallLeg);
  await (leg as JambonzCallLeg).closed;
});
const emu = await startJambonzEmulator({ appUrl, mode: 'webhook', webhookSecret: 'bench' });
const calls = await Promise.all(
  Array.from({ length: CALLS }, (_, i) => emu.placeCall({ from: `+1555000${i}`, to: '100' })),
);
while (legs.length < CALLS || legs.some((l) => !l.hasAudio)) await new Promise((r) => setTimeout(r, 10));

// Caller audio: frame n carries n in its first sample so the bot side can tell when it was due.
const caller = new Int16Array(RATE * SECONDS);
for (let n = 0; n * FRAME < caller.length; n++) caller[n * FRAME] = n;
const prompt = new Int16Array(RATE * SECONDS).map((_, i) => Math.round(4000 * Math.sin(i / 7)));

const cpu0 = process.cpuUsage();
const wall0 = performance.now();
await Promise.all(
  calls.map(async (call) => {
    const leg = legs.find((l) => l.id === call.callSid)!;
    const start = performance.now();
    leg.on('audio', (frame) => {
      const n = frame[0]!;
      latencies.push(performance.now() - (start + n * 20));
    });
    leg.sendAudio(prompt);
    const played = leg.waitForPlayout(AbortSignal.timeout(SECONDS * 1000 + 10_000)).then(() => {
      playoutOverhead.push(performance.now() - start - SECONDS * 1000);
    });
    await call.sendAudio(caller, RATE, { speed: 1 });
    await played;
  }),
);
const wallMs = performance.now() - wall0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;

figure(BENCH, 'caller_to_bot_latency_p50', percentile(latencies, 0.5), 'ms', { calls: CALLS });
figure(BENCH, 'caller_to_bot_latency_p99', percentile(latencies, 0.99), 'ms', { calls: CALLS });
figure(BENCH, 'prompt_playout_overhead_p50', percentile(playoutOverhead, 0.5), 'ms', {
  calls: CALLS,
  note: 'includes the emulated media server pre-buffer (160 ms) and the 100 ms tail silence',
});
figure(BENCH, 'prompt_playout_overhead_p99', percentile(playoutOverhead, 0.99), 'ms', { calls: CALLS });
figure(BENCH, 'cpu_per_call', (cpuMs / wallMs / CALLS) * 100, '% of one core', {
  calls: CALLS,
  note: 'bot and emulator in one process',
});

await emu.close();
await backend.stop();
await web.close();
